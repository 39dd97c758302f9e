"""Reports: summary.md, report.html, plots, and comparisons across runs."""
