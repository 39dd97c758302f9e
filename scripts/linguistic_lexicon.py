"""Hand-authored lexical data used by ``scripts/build_linguistic_data.py``.

Everything here was written and checked by hand:

* ``IRREGULAR_VERBS``: base -> (simple past, past participle), standard American English.
  Every verb whose forms are not produced by the regular ``-ed`` spelling rules must be listed
  here to be used at all; irregular verbs the package knows but that are missing here are
  dropped by the build script.
* ``GERUND_OVERRIDES``: -ing forms the package gets wrong.
* ``AMERICAN_VERB_FORMS``: regular verbs for which the package lists a second accepted
  (mostly British) form; the standard American ``-ed`` form is chosen.
* ``EXCLUDED_VERBS``: verbs that are ambiguous or unsuitable as single-answer inputs.
* ``IRREGULAR_NOUNS``: singular -> plural for nouns whose plural is not a regular ``-s``/``-es``
  /``-ies`` form.
* ``EXCLUDED_NOUNS``: nouns that are ambiguous, uncountable, or unsuitable.
* ``ANTONYM_PAIRS``: unordered antonym pairs; every word occurs in exactly one pair, so both
  directions can be used without conflicts.
* ``BLOCKED_WORDS``: profanity and slurs that a frequency list contains; never emitted.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    """Whitespace-separated words of ``text``; lines starting with ``#`` are comments."""
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    return frozenset(word for line in lines for word in line.split())


# base -> (simple past, past participle). Standard American English; verbs with two common
# competing forms (dive dived/dove, prove proved/proven, shine shone/shined, ...) are not here
# but in EXCLUDED_VERBS.
IRREGULAR_VERBS: dict[str, tuple[str, str]] = {
    "arise": ("arose", "arisen"),
    "awake": ("awoke", "awoken"),
    "beat": ("beat", "beaten"),
    "become": ("became", "become"),
    "befall": ("befell", "befallen"),
    "begin": ("began", "begun"),
    "behold": ("beheld", "beheld"),
    "bend": ("bent", "bent"),
    "bet": ("bet", "bet"),
    "bind": ("bound", "bound"),
    "bite": ("bit", "bitten"),
    "bleed": ("bled", "bled"),
    "blow": ("blew", "blown"),
    "break": ("broke", "broken"),
    "breed": ("bred", "bred"),
    "bring": ("brought", "brought"),
    "broadcast": ("broadcast", "broadcast"),
    "build": ("built", "built"),
    "burst": ("burst", "burst"),
    "buy": ("bought", "bought"),
    "cast": ("cast", "cast"),
    "catch": ("caught", "caught"),
    "choose": ("chose", "chosen"),
    "cling": ("clung", "clung"),
    "come": ("came", "come"),
    "cost": ("cost", "cost"),
    "creep": ("crept", "crept"),
    "cut": ("cut", "cut"),
    "deal": ("dealt", "dealt"),
    "dig": ("dug", "dug"),
    "do": ("did", "done"),
    "draw": ("drew", "drawn"),
    "drink": ("drank", "drunk"),
    "drive": ("drove", "driven"),
    "eat": ("ate", "eaten"),
    "fall": ("fell", "fallen"),
    "feed": ("fed", "fed"),
    "feel": ("felt", "felt"),
    "fight": ("fought", "fought"),
    "find": ("found", "found"),
    "flee": ("fled", "fled"),
    "fling": ("flung", "flung"),
    "fly": ("flew", "flown"),
    "forbid": ("forbade", "forbidden"),
    "forecast": ("forecast", "forecast"),
    "foresee": ("foresaw", "foreseen"),
    "foretell": ("foretold", "foretold"),
    "forget": ("forgot", "forgotten"),
    "forgive": ("forgave", "forgiven"),
    "forsake": ("forsook", "forsaken"),
    "freeze": ("froze", "frozen"),
    "get": ("got", "gotten"),
    "give": ("gave", "given"),
    "go": ("went", "gone"),
    "grind": ("ground", "ground"),
    "grow": ("grew", "grown"),
    "have": ("had", "had"),
    "hear": ("heard", "heard"),
    "hide": ("hid", "hidden"),
    "hit": ("hit", "hit"),
    "hold": ("held", "held"),
    "hurt": ("hurt", "hurt"),
    "keep": ("kept", "kept"),
    "know": ("knew", "known"),
    "lead": ("led", "led"),
    "leave": ("left", "left"),
    "lend": ("lent", "lent"),
    "let": ("let", "let"),
    "lose": ("lost", "lost"),
    "make": ("made", "made"),
    "mean": ("meant", "meant"),
    "meet": ("met", "met"),
    "mislead": ("misled", "misled"),
    "mistake": ("mistook", "mistaken"),
    "misunderstand": ("misunderstood", "misunderstood"),
    "outgrow": ("outgrew", "outgrown"),
    "overcome": ("overcame", "overcome"),
    "overhear": ("overheard", "overheard"),
    "override": ("overrode", "overridden"),
    "overrun": ("overran", "overrun"),
    "oversee": ("oversaw", "overseen"),
    "overtake": ("overtook", "overtaken"),
    "overthrow": ("overthrew", "overthrown"),
    "pay": ("paid", "paid"),
    "put": ("put", "put"),
    "quit": ("quit", "quit"),
    "read": ("read", "read"),
    "rebuild": ("rebuilt", "rebuilt"),
    "redo": ("redid", "redone"),
    "remake": ("remade", "remade"),
    "repay": ("repaid", "repaid"),
    "resell": ("resold", "resold"),
    "retake": ("retook", "retaken"),
    "retell": ("retold", "retold"),
    "rethink": ("rethought", "rethought"),
    "rewrite": ("rewrote", "rewritten"),
    "rid": ("rid", "rid"),
    "ride": ("rode", "ridden"),
    "ring": ("rang", "rung"),
    "rise": ("rose", "risen"),
    "run": ("ran", "run"),
    "say": ("said", "said"),
    "see": ("saw", "seen"),
    "seek": ("sought", "sought"),
    "sell": ("sold", "sold"),
    "send": ("sent", "sent"),
    "set": ("set", "set"),
    "shake": ("shook", "shaken"),
    "shed": ("shed", "shed"),
    "shoot": ("shot", "shot"),
    "show": ("showed", "shown"),
    "shrink": ("shrank", "shrunk"),
    "shut": ("shut", "shut"),
    "sing": ("sang", "sung"),
    "sink": ("sank", "sunk"),
    "sit": ("sat", "sat"),
    "sleep": ("slept", "slept"),
    "slide": ("slid", "slid"),
    "sling": ("slung", "slung"),
    "slit": ("slit", "slit"),
    "speak": ("spoke", "spoken"),
    "spend": ("spent", "spent"),
    "spin": ("spun", "spun"),
    "split": ("split", "split"),
    "spread": ("spread", "spread"),
    "spring": ("sprang", "sprung"),
    "stand": ("stood", "stood"),
    "steal": ("stole", "stolen"),
    "stick": ("stuck", "stuck"),
    "sting": ("stung", "stung"),
    "stink": ("stank", "stunk"),
    "strike": ("struck", "struck"),
    "string": ("strung", "strung"),
    "swear": ("swore", "sworn"),
    "sweep": ("swept", "swept"),
    "swim": ("swam", "swum"),
    "swing": ("swung", "swung"),
    "take": ("took", "taken"),
    "teach": ("taught", "taught"),
    "tear": ("tore", "torn"),
    "tell": ("told", "told"),
    "think": ("thought", "thought"),
    "throw": ("threw", "thrown"),
    "thrust": ("thrust", "thrust"),
    "undergo": ("underwent", "undergone"),
    "understand": ("understood", "understood"),
    "undertake": ("undertook", "undertaken"),
    "undo": ("undid", "undone"),
    "uphold": ("upheld", "upheld"),
    "upset": ("upset", "upset"),
    "wake": ("woke", "woken"),
    "wear": ("wore", "worn"),
    "weave": ("wove", "woven"),
    "weep": ("wept", "wept"),
    "win": ("won", "won"),
    "withdraw": ("withdrew", "withdrawn"),
    "withhold": ("withheld", "withheld"),
    "withstand": ("withstood", "withstood"),
    "wring": ("wrung", "wrung"),
    "write": ("wrote", "written"),
}

# -ing forms missing or wrong in the package's data.
GERUND_OVERRIDES: dict[str, str] = {
    "sting": "stinging",
}

# Regular verbs for which the package lists a second (British or archaic) past form next to
# the standard American one. base -> (simple past, past participle).
AMERICAN_VERB_FORMS: dict[str, tuple[str, str]] = {
    "burn": ("burned", "burned"),
    "dream": ("dreamed", "dreamed"),
    "focus": ("focused", "focused"),
    "lean": ("leaned", "leaned"),
    "learn": ("learned", "learned"),
    "plead": ("pleaded", "pleaded"),
    "smell": ("smelled", "smelled"),
    "spell": ("spelled", "spelled"),
    "spill": ("spilled", "spilled"),
    "stay": ("stayed", "stayed"),
    "blend": ("blended", "blended"),
    "bless": ("blessed", "blessed"),
    "relay": ("relayed", "relayed"),
    "spoil": ("spoiled", "spoiled"),
}

# Verbs never used: auxiliaries and modals (no ordinary inflection or several past forms),
# verbs with two competing standard forms, and verbs whose base form is also a common form of
# a different verb or whose meaning changes the inflection.
EXCLUDED_VERBS: frozenset[str] = _words(
    """
    # auxiliaries / modals / defective verbs
    be am is are can could may might must shall should
    will would ought
    # two competing standard forms
    bear bid dive dwell fit hang input kneel knit leap
    lie light mow output slay prove saw sew shine sneak
    sow speed spit stride strive swell tread wed wet wind
    abide awaken chide cleave slink smite stave thrive beget
    bust
    # British-only spelling or sense, or not suitable
    bath practise programme pee
    # base form is also a past form of another verb (found < find, lay < lie, ...)
    found lay ground wound bound fell felt
    """
)

# singular -> plural for irregular nouns (checked by hand).
IRREGULAR_NOUNS: dict[str, str] = {
    "alumnus": "alumni",
    "analysis": "analyses",
    "bacterium": "bacteria",
    "basis": "bases",
    "businessman": "businessmen",
    "calf": "calves",
    "chairman": "chairmen",
    "child": "children",
    "crisis": "crises",
    "criterion": "criteria",
    "diagnosis": "diagnoses",
    "elf": "elves",
    "fireman": "firemen",
    "fisherman": "fishermen",
    "foot": "feet",
    "gentleman": "gentlemen",
    "goose": "geese",
    "grandchild": "grandchildren",
    "half": "halves",
    "hero": "heroes",
    "housewife": "housewives",
    "hypothesis": "hypotheses",
    "knife": "knives",
    "leaf": "leaves",
    "life": "lives",
    "loaf": "loaves",
    "man": "men",
    "midwife": "midwives",
    "mouse": "mice",
    "nucleus": "nuclei",
    "oasis": "oases",
    "ox": "oxen",
    "parenthesis": "parentheses",
    "person": "people",
    "phenomenon": "phenomena",
    "policeman": "policemen",
    "potato": "potatoes",
    "prognosis": "prognoses",
    "quiz": "quizzes",
    "self": "selves",
    "shelf": "shelves",
    "stimulus": "stimuli",
    "synopsis": "synopses",
    "synthesis": "syntheses",
    "thesis": "theses",
    "thief": "thieves",
    "tomato": "tomatoes",
    "tooth": "teeth",
    "werewolf": "werewolves",
    "wife": "wives",
    "wolf": "wolves",
    "woman": "women",
}

# Nouns never used: plural equal to the singular, several accepted plurals, mostly uncountable
# or mostly used in the plural, or a singular that is itself a plural.
EXCLUDED_NOUNS: frozenset[str] = _words(
    """
    # zero plural / plural-only / singular that is really a plural
    sheep fish deer series species aircraft offspring moose
    salmon trout means news data media people police cattle
    clothes scissors pants trousers staff headquarters premises
    physics mathematics economics politics ethics athletics crossroads
    # two accepted plurals
    cactus fungus radius syllabus octopus index appendix matrix
    vertex medium curriculum memorandum dwarf scarf hoof roof
    volcano mosquito zero cargo tornado buffalo die penny
    formula antenna focus genius virus
    # mostly uncountable
    information advice furniture equipment luggage baggage homework
    knowledge evidence research music money traffic weather
    progress health rice wheat hair mail software hardware
    feedback garbage rubbish jewelry clothing scenery machinery
    poetry pottery laughter wealth welfare fun grass sand
    dust mud snow rain air oxygen gold silver iron steel
    milk bread butter cheese meat beef pork chicken salt
    sugar water blood sweat smoke fire glass paper wood
    stuff spam
    # plural has another meaning or the noun sense is marginal
    keep wake other work art math damage pop security
    # mostly used as a personal name, surname or proper noun
    tory
    tom martin nick don dean robin miller mason smith jack
    pat sue bob rob mike jim joe ted chuck bush carter
    harry kelly mac ed al sam ben dan tim ken max rick
    matt pete ron ross frank gary jerry larry terry barry
    jean will grace hope joy faith sandy rocky cooper turner
    """
)

# Unordered antonym pairs. Each word appears in exactly one pair.
ANTONYM_PAIRS: tuple[tuple[str, str], ...] = (
    # adjectives
    ("hot", "cold"),
    ("big", "small"),
    ("long", "short"),
    ("fast", "slow"),
    ("happy", "sad"),
    ("good", "bad"),
    ("rich", "poor"),
    ("young", "old"),
    ("heavy", "light"),
    ("open", "closed"),
    ("early", "late"),
    ("strong", "weak"),
    ("hard", "soft"),
    ("wet", "dry"),
    ("clean", "dirty"),
    ("full", "empty"),
    ("thick", "thin"),
    ("wide", "narrow"),
    ("deep", "shallow"),
    ("high", "low"),
    ("loud", "quiet"),
    ("bright", "dim"),
    ("true", "false"),
    ("right", "wrong"),
    ("alive", "dead"),
    ("male", "female"),
    ("positive", "negative"),
    ("major", "minor"),
    ("internal", "external"),
    ("interior", "exterior"),
    ("private", "public"),
    ("visible", "invisible"),
    ("possible", "impossible"),
    ("legal", "illegal"),
    ("polite", "rude"),
    ("honest", "dishonest"),
    ("kind", "cruel"),
    ("brave", "cowardly"),
    ("wise", "foolish"),
    ("clever", "stupid"),
    ("beautiful", "ugly"),
    ("cheap", "expensive"),
    ("safe", "dangerous"),
    ("easy", "difficult"),
    ("simple", "complex"),
    ("same", "different"),
    ("near", "far"),
    ("first", "last"),
    ("sweet", "sour"),
    ("raw", "cooked"),
    ("rough", "smooth"),
    ("sharp", "dull"),
    ("tight", "loose"),
    ("asleep", "awake"),
    ("sick", "healthy"),
    ("present", "absent"),
    ("ancient", "modern"),
    ("native", "foreign"),
    ("guilty", "innocent"),
    ("wild", "tame"),
    ("real", "fake"),
    ("natural", "artificial"),
    ("rural", "urban"),
    ("optimistic", "pessimistic"),
    ("permanent", "temporary"),
    ("generous", "stingy"),
    ("proud", "ashamed"),
    ("able", "unable"),
    ("fair", "unfair"),
    ("known", "unknown"),
    ("certain", "uncertain"),
    ("lucky", "unlucky"),
    ("usual", "unusual"),
    ("common", "rare"),
    ("inner", "outer"),
    ("upper", "lower"),
    ("horizontal", "vertical"),
    ("forward", "backward"),
    ("indoor", "outdoor"),
    ("odd", "even"),
    ("best", "worst"),
    ("better", "worse"),
    ("many", "few"),
    ("most", "least"),
    ("mortal", "immortal"),
    ("finite", "infinite"),
    ("superior", "inferior"),
    ("senior", "junior"),
    ("active", "passive"),
    ("offensive", "defensive"),
    ("formal", "informal"),
    ("previous", "next"),
    ("fresh", "stale"),
    ("interesting", "boring"),
    ("careful", "careless"),
    ("harmful", "harmless"),
    ("useful", "useless"),
    ("hopeful", "hopeless"),
    ("patient", "impatient"),
    ("mature", "immature"),
    ("moral", "immoral"),
    ("perfect", "imperfect"),
    ("proper", "improper"),
    ("logical", "illogical"),
    ("responsible", "irresponsible"),
    ("regular", "irregular"),
    ("relevant", "irrelevant"),
    ("complete", "incomplete"),
    ("correct", "incorrect"),
    ("direct", "indirect"),
    ("dependent", "independent"),
    ("sane", "insane"),
    ("secure", "insecure"),
    ("sensitive", "insensitive"),
    ("accurate", "inaccurate"),
    ("comfortable", "uncomfortable"),
    ("fortunate", "unfortunate"),
    ("friendly", "hostile"),
    ("willing", "unwilling"),
    ("employed", "unemployed"),
    ("tidy", "messy"),
    ("sober", "drunk"),
    ("mild", "severe"),
    ("concave", "convex"),
    ("overweight", "underweight"),
    ("black", "white"),
    ("maximum", "minimum"),
    # adverbs and other function words
    ("up", "down"),
    ("in", "out"),
    ("above", "below"),
    ("before", "after"),
    ("inside", "outside"),
    ("over", "under"),
    ("always", "never"),
    ("all", "none"),
    ("everything", "nothing"),
    ("yes", "no"),
    ("here", "there"),
    ("together", "apart"),
    ("quickly", "slowly"),
    ("more", "less"),
    ("upstairs", "downstairs"),
    ("uphill", "downhill"),
    ("yesterday", "tomorrow"),
    ("plus", "minus"),
    # nouns
    ("top", "bottom"),
    ("front", "back"),
    ("north", "south"),
    ("east", "west"),
    ("day", "night"),
    ("friend", "enemy"),
    ("war", "peace"),
    ("life", "death"),
    ("success", "failure"),
    ("majority", "minority"),
    ("offense", "defense"),
    ("past", "future"),
    ("sunrise", "sunset"),
    ("summer", "winter"),
    ("joy", "sorrow"),
    ("pleasure", "pain"),
    ("hope", "despair"),
    ("victory", "defeat"),
    ("question", "answer"),
    ("profit", "loss"),
    ("credit", "debit"),
    ("asset", "liability"),
    ("supply", "demand"),
    ("buyer", "seller"),
    ("winner", "loser"),
    ("leader", "follower"),
    ("arrival", "departure"),
    ("morning", "evening"),
    ("dawn", "dusk"),
    ("heaven", "hell"),
    ("angel", "devil"),
    ("hero", "villain"),
    ("cause", "effect"),
    ("problem", "solution"),
    ("strength", "weakness"),
    ("advantage", "disadvantage"),
    ("floor", "ceiling"),
    ("input", "output"),
    # verbs
    ("win", "lose"),
    ("buy", "sell"),
    ("give", "take"),
    ("push", "pull"),
    ("come", "go"),
    ("start", "finish"),
    ("begin", "end"),
    ("arrive", "depart"),
    ("enter", "exit"),
    ("accept", "reject"),
    ("add", "subtract"),
    ("allow", "forbid"),
    ("remember", "forget"),
    ("love", "hate"),
    ("laugh", "cry"),
    ("increase", "decrease"),
    ("include", "exclude"),
    ("import", "export"),
    ("rise", "fall"),
    ("float", "sink"),
    ("freeze", "melt"),
    ("build", "destroy"),
    ("borrow", "lend"),
    ("send", "receive"),
    ("teach", "learn"),
    ("spend", "save"),
    ("throw", "catch"),
    ("attack", "defend"),
    ("obey", "disobey"),
    ("agree", "disagree"),
    ("like", "dislike"),
    ("appear", "disappear"),
    ("connect", "disconnect"),
    ("lock", "unlock"),
    ("tie", "untie"),
    ("pack", "unpack"),
    ("multiply", "divide"),
    ("expand", "contract"),
    ("inhale", "exhale"),
    ("ascend", "descend"),
    ("admit", "deny"),
    ("praise", "criticize"),
    ("reward", "punish"),
    ("approve", "disapprove"),
    ("encourage", "discourage"),
    ("maximize", "minimize"),
    ("overestimate", "underestimate"),
    ("enable", "disable"),
    ("inflate", "deflate"),
)

# Profanity and slurs that a web-derived frequency list contains; never emitted.
BLOCKED_WORDS: frozenset[str] = _words(
    """
    fuck shit piss bitch cunt dick cock ass arse damn crap
    fag faggot nigger nigga whore slut bastard twat wank
    wanker prick pussy tit tits boob boobs porn rape retard
    dyke hoe bugger bollock spunk cum dildo horny penis
    vagina anus nude sex fart poop turd molest shag hump
    queer spic chink kike
    gook tranny bimbo hooker pimp stripper masturbate orgasm
    ejaculate semen scrotum testicle butt crotch condom erection
    """
)
