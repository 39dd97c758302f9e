"""Hand-authored tables for the knowledge ICL tasks.

Used by ``scripts/build_knowledge_data.py``; nothing in ``tvlens`` imports this module.

Every entry is meant to be a plain, uncontroversial fact. Where a fact is disputed or
has no clear answer the entry is left out rather than guessed (see the comments).
"""

from __future__ import annotations

# --------------------------------------------------------------------------------------
# country_capital
# --------------------------------------------------------------------------------------

# ISO 3166-1 alpha-2 codes of the 193 UN member states.
UN_MEMBERS: tuple[str, ...] = (
    "AD", "AE", "AF", "AG", "AL", "AM", "AO", "AR", "AT", "AU", "AZ", "BA", "BB", "BD",
    "BE", "BF", "BG", "BH", "BI", "BJ", "BN", "BO", "BR", "BS", "BT", "BW", "BY", "BZ",
    "CA", "CD", "CF", "CG", "CH", "CI", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CY",
    "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "ER", "ES", "ET", "FI",
    "FJ", "FM", "FR", "GA", "GB", "GD", "GE", "GH", "GM", "GN", "GQ", "GR", "GT", "GW",
    "GY", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IN", "IQ", "IR", "IS", "IT", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KZ", "LA", "LB",
    "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MG",
    "MH", "MK", "ML", "MM", "MN", "MR", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NE", "NG", "NI", "NL", "NO", "NP", "NR", "NZ", "OM", "PA", "PE", "PG", "PH", "PK",
    "PL", "PT", "PW", "PY", "QA", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD", "SE",
    "SG", "SI", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SY", "SZ", "TD",
    "TG", "TH", "TJ", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TZ", "UA", "UG", "US",
    "UY", "UZ", "VC", "VE", "VN", "VU", "WS", "YE", "ZA", "ZM", "ZW",
)  # fmt: skip

# UN General Assembly non-member observer states.
UN_OBSERVERS: tuple[str, ...] = ("VA", "PS")

# Common English short names where the GeoNames name differs.
COUNTRY_NAME_OVERRIDES: dict[str, str] = {
    "CV": "Cape Verde",
    "CZ": "Czech Republic",
    "NL": "Netherlands",
    "TL": "East Timor",
    "VA": "Vatican City",
    "PS": "Palestine",
}

# Capitals where the GeoNames value is outdated or not the usual English form.
CAPITAL_OVERRIDES: dict[str, str] = {
    "KZ": "Astana",  # renamed back from Nur-Sultan in 2022
    "MM": "Naypyidaw",  # usual English spelling of "Nay Pyi Taw"
    "PW": "Ngerulmud",  # seat of government (GeoNames gives the state, Melekeok)
    "LK": "Sri Jayawardenepura Kotte",  # official capital (Colombo is the commercial one)
}

# Countries dropped from country_capital, with the reason.
CAPITAL_DROPPED: dict[str, str] = {
    "GQ": "capital moving from Malabo to Ciudad de la Paz; sources disagree",
    "PS": "capital disputed (East Jerusalem claimed, Ramallah administrative)",
}

# Conventions kept on purpose (official/constitutional capital):
#   Bolivia -> Sucre, Netherlands -> Amsterdam, Benin -> Porto-Novo,
#   Ivory Coast -> Yamoussoukro, Tanzania -> Dodoma, South Africa -> Pretoria,
#   Eswatini -> Mbabane, Burundi -> Gitega, Israel -> Jerusalem (as designated by Israel).

# --------------------------------------------------------------------------------------
# location_continent
# --------------------------------------------------------------------------------------

CONTINENT_NAMES: dict[str, str] = {
    "AF": "Africa",
    "AS": "Asia",
    "EU": "Europe",
    "NA": "North America",
    "SA": "South America",
    "OC": "Oceania",
    "AN": "Antarctica",
}

# Countries/territories whose continent is not clear-cut (transcontinental, or
# conventionally assigned to different continents by different sources). Neither the
# country nor its cities are used, except where CITY_CONTINENT_RULES says otherwise.
CONTINENT_AMBIGUOUS_COUNTRIES: frozenset[str] = frozenset(
    {
        "AM",  # Armenia
        "AZ",  # Azerbaijan
        "GE",  # Georgia (also a US state)
        "CY",  # Cyprus: geographically Asia, politically Europe
        "TL",  # East Timor: Asia or Oceania
        "TT",  # Trinidad and Tobago: on the South American shelf, Caribbean by convention
        "AW",  # Aruba, Curacao, Bonaire: off Venezuela
        "CW",
        "BQ",
        "AN",  # Netherlands Antilles (defunct)
        "CS",  # Serbia and Montenegro (defunct)
        "AQ",  # Antarctica (would map to itself)
        "BV",  # uninhabited / remote territories
        "HM",
        "GS",
        "TF",
        "UM",
        "IO",
        "CC",
        "CX",
        "SH",
        "EH",  # Western Sahara (disputed territory)
    }
)

# Transcontinental countries whose name is not used but whose cities are, by a rule
# on their location (see build_knowledge_data.city_continent).
CONTINENT_COUNTRY_ONLY_SKIP: frozenset[str] = frozenset({"RU", "TR", "KZ"})

# Territories that are not UN members but whose continent is unambiguous.
CONTINENT_TERRITORIES: tuple[str, ...] = (
    "AI", "AS", "AX", "BL", "BM", "CK", "FK", "FO", "GF", "GG", "GI", "GL", "GP", "GU",
    "HK", "IM", "JE", "KY", "MF", "MO", "MP", "MQ", "MS", "NC", "NF", "NU", "PF", "PM",
    "PN", "PR", "RE", "SJ", "SX", "TC", "TK", "TW", "VG", "VI", "WF", "XK", "YT", "PS",
    "VA",
)  # fmt: skip

# Territory names in their usual English form.
TERRITORY_NAME_OVERRIDES: dict[str, str] = {
    "AX": "Aland Islands",
    "BL": "Saint Barthelemy",
    "RE": "Reunion",
    "MO": "Macau",
    "PN": "Pitcairn Islands",
    "SJ": "Svalbard",
}

# GeoNames city names replaced by their usual English name (keyed by the GeoNames name
# after folding to ASCII, see build_knowledge_data.fold_name).
CITY_NAME_FIXES: dict[str, str] = {
    "Köln": "Cologne",
    "Sevilla": "Seville",
    "Nizhniy Novgorod": "Nizhny Novgorod",
    "Montréal": "Montreal",
    "Québec": "Quebec City",
    "New South Memphis": "Memphis",
    "Al Mawsil al Jadidah": "Mosul",
    "Al Basrah al Qadimah": "Basra",
    "Fes": "Fez",
    "Frankfurt am Main": "Frankfurt",
    "Homyel'": "Gomel",
    "Ryazan'": "Ryazan",
    "Arkhangel'sk": "Arkhangelsk",
    "Orël": "Oryol",
    "Acapulco de Juárez": "Acapulco",
    "León de los Aldama": "León",
    "Xalapa de Enríquez": "Xalapa",
    "Heroica Matamoros": "Matamoros",
    "Victoria de Durango": "Durango",
    "Santiago de Querétaro": "Querétaro",
    "Tuxtla": "Tuxtla Gutiérrez",
    "Bengaluru": "Bangalore",
    "Al Hudaydah": "Hodeidah",
    "Hamah": "Hama",
    "Ta'if": "Taif",
    "Orumiyeh": "Urmia",
    "Zaporizhzhya": "Zaporizhzhia",
    "Vinnytsya": "Vinnytsia",
    "Mykolayiv": "Mykolaiv",
    "Kryvyy Rih": "Kryvyi Rih",
    "Thessaloníki": "Thessaloniki",
    "Makkah": "Mecca",
    "Madinah": "Medina",
    "Tigwav": "Petit-Goâve",
    "Puerto Cortez": "Puerto Cortés",
}

# GeoNames entries never used as cities (unusual names for a part of a bigger city,
# or administrative areas rather than cities).
CITY_SKIP: frozenset[str] = frozenset(
    {
        "Wuzhong",
        "Calumbo",
        "Soshanguve",
        "Evaton",
        "Chéngguān Qū",
        "Daxing’anling",
        "Lüliang",
        "Central Coast",
        "Sunshine Coast",
        "Dededo Village",
        "Budta",
    }
)

# Famous cities whose name also belongs to a smaller city on another continent, kept
# because the famous one is what the name means in ordinary usage.
CITY_FORCE_KEEP: dict[tuple[str, str], str] = {
    ("Barcelona", "ES"): "Europe",
    ("Athens", "GR"): "Europe",
    ("Manchester", "GB"): "Europe",
}

# Regions, islands, natural features and landmarks -> continent.
LANDMARK_CONTINENT: dict[str, str] = {
    # Europe
    "Eiffel Tower": "Europe",
    "Louvre": "Europe",
    "Colosseum": "Europe",
    "Leaning Tower of Pisa": "Europe",
    "Big Ben": "Europe",
    "Buckingham Palace": "Europe",
    "Tower of London": "Europe",
    "Westminster Abbey": "Europe",
    "Stonehenge": "Europe",
    "Acropolis of Athens": "Europe",
    "Parthenon": "Europe",
    "Sagrada Familia": "Europe",
    "Alhambra": "Europe",
    "Brandenburg Gate": "Europe",
    "Neuschwanstein Castle": "Europe",
    "Notre-Dame de Paris": "Europe",
    "Palace of Versailles": "Europe",
    "Mont Saint-Michel": "Europe",
    "Trevi Fountain": "Europe",
    "Sistine Chapel": "Europe",
    "St. Peter's Basilica": "Europe",
    "Pompeii": "Europe",
    "Mount Vesuvius": "Europe",
    "Mount Etna": "Europe",
    "Red Square": "Europe",
    "Hermitage Museum": "Europe",
    "Charles Bridge": "Europe",
    "Cliffs of Moher": "Europe",
    "Loch Ness": "Europe",
    "Edinburgh Castle": "Europe",
    "Mont Blanc": "Europe",
    "Matterhorn": "Europe",
    "Alps": "Europe",
    "Pyrenees": "Europe",
    "Danube": "Europe",
    "Rhine": "Europe",
    "Thames": "Europe",
    "Seine": "Europe",
    "Black Forest": "Europe",
    "Lake Geneva": "Europe",
    "Lake Como": "Europe",
    "Scandinavia": "Europe",
    "Iberian Peninsula": "Europe",
    "Balkans": "Europe",
    "Tuscany": "Europe",
    "Sicily": "Europe",
    "Sardinia": "Europe",
    "Corsica": "Europe",
    "Crete": "Europe",
    "Bavaria": "Europe",
    "Catalonia": "Europe",
    "Andalusia": "Europe",
    "Provence": "Europe",
    "Normandy": "Europe",
    "Brittany": "Europe",
    "Scotland": "Europe",
    "Wales": "Europe",
    "England": "Europe",
    "Northern Ireland": "Europe",
    "Lapland": "Europe",
    "Transylvania": "Europe",
    "Cornwall": "Europe",
    "Flanders": "Europe",
    "Atomium": "Europe",
    # Asia
    "Great Wall of China": "Asia",
    "Forbidden City": "Asia",
    "Taj Mahal": "Asia",
    "Mount Everest": "Asia",
    "Angkor Wat": "Asia",
    "Petra": "Asia",
    "Burj Khalifa": "Asia",
    "Mount Fuji": "Asia",
    "Himalayas": "Asia",
    "Gobi Desert": "Asia",
    "Dead Sea": "Asia",
    "Kaaba": "Asia",
    "Borobudur": "Asia",
    "Terracotta Army": "Asia",
    "Tiananmen Square": "Asia",
    "Potala Palace": "Asia",
    "Ha Long Bay": "Asia",
    "Petronas Towers": "Asia",
    "Marina Bay Sands": "Asia",
    "Shwedagon Pagoda": "Asia",
    "Tokyo Tower": "Asia",
    "Golden Temple": "Asia",
    "Red Fort": "Asia",
    "Gateway of India": "Asia",
    "Yangtze River": "Asia",
    "Ganges": "Asia",
    "Mekong": "Asia",
    "Bali": "Asia",
    "Java": "Asia",
    "Sumatra": "Asia",
    "Borneo": "Asia",
    "Tibet": "Asia",
    "Siberia": "Asia",
    "Kashmir": "Asia",
    "Mesopotamia": "Asia",
    "Sinai Peninsula": "Asia",
    "Arabian Peninsula": "Asia",
    "Hokkaido": "Asia",
    "Okinawa": "Asia",
    "Mindanao": "Asia",
    "Luzon": "Asia",
    "Cappadocia": "Asia",
    "Mount Ararat": "Asia",
    "Lake Baikal": "Asia",
    "Persepolis": "Asia",
    "Babylon": "Asia",
    "K2": "Asia",
    # Africa
    "Pyramids of Giza": "Africa",
    "Great Sphinx of Giza": "Africa",
    "Sahara": "Africa",
    "Mount Kilimanjaro": "Africa",
    "Victoria Falls": "Africa",
    "Nile": "Africa",
    "Serengeti": "Africa",
    "Table Mountain": "Africa",
    "Kalahari Desert": "Africa",
    "Namib Desert": "Africa",
    "Lake Victoria": "Africa",
    "Lake Tanganyika": "Africa",
    "Atlas Mountains": "Africa",
    "Okavango Delta": "Africa",
    "Congo River": "Africa",
    "Timbuktu": "Africa",
    "Valley of the Kings": "Africa",
    "Abu Simbel": "Africa",
    "Karnak": "Africa",
    "Cape of Good Hope": "Africa",
    "Ngorongoro Crater": "Africa",
    "Maasai Mara": "Africa",
    "Mount Kenya": "Africa",
    "Robben Island": "Africa",
    "Kruger National Park": "Africa",
    "Great Mosque of Djenné": "Africa",
    "Sahel": "Africa",
    "Darfur": "Africa",
    # North America
    "Statue of Liberty": "North America",
    "Grand Canyon": "North America",
    "Golden Gate Bridge": "North America",
    "Niagara Falls": "North America",
    "Mount Rushmore": "North America",
    "Yellowstone National Park": "North America",
    "Yosemite National Park": "North America",
    "Empire State Building": "North America",
    "White House": "North America",
    "Times Square": "North America",
    "Central Park": "North America",
    "Brooklyn Bridge": "North America",
    "Hollywood": "North America",
    "Rocky Mountains": "North America",
    "Appalachian Mountains": "North America",
    "Mississippi River": "North America",
    "Chichen Itza": "North America",
    "Teotihuacan": "North America",
    "Tikal": "North America",
    "Panama Canal": "North America",
    "CN Tower": "North America",
    "Alcatraz": "North America",
    "Death Valley": "North America",
    "Lake Superior": "North America",
    "Denali": "North America",
    "Hudson Bay": "North America",
    "Yucatán Peninsula": "North America",
    "Baja California": "North America",
    "Space Needle": "North America",
    "Gateway Arch": "North America",
    "Hoover Dam": "North America",
    "Everglades": "North America",
    "Mount Rainier": "North America",
    "Lincoln Memorial": "North America",
    "Ontario": "North America",
    "Quebec": "North America",
    "British Columbia": "North America",
    "Alberta": "North America",
    "Nova Scotia": "North America",
    "Manitoba": "North America",
    "Saskatchewan": "North America",
    "Newfoundland": "North America",
    "Yukon": "North America",
    # South America
    "Machu Picchu": "South America",
    "Amazon Rainforest": "South America",
    "Amazon River": "South America",
    "Andes": "South America",
    "Iguazu Falls": "South America",
    "Angel Falls": "South America",
    "Christ the Redeemer": "South America",
    "Atacama Desert": "South America",
    "Patagonia": "South America",
    "Lake Titicaca": "South America",
    "Copacabana Beach": "South America",
    "Sugarloaf Mountain": "South America",
    "Aconcagua": "South America",
    "Tierra del Fuego": "South America",
    "Salar de Uyuni": "South America",
    "Nazca Lines": "South America",
    "Pantanal": "South America",
    "Torres del Paine": "South America",
    "Cape Horn": "South America",
    "Orinoco": "South America",
    "Río de la Plata": "South America",
    "Pampas": "South America",
    # Oceania
    "Sydney Opera House": "Oceania",
    "Sydney Harbour Bridge": "Oceania",
    "Great Barrier Reef": "Oceania",
    "Uluru": "Oceania",
    "Bondi Beach": "Oceania",
    "Tasmania": "Oceania",
    "Queensland": "Oceania",
    "New South Wales": "Oceania",
    "Western Australia": "Oceania",
    "South Australia": "Oceania",
    "Northern Territory": "Oceania",
    "Milford Sound": "Oceania",
    "Aoraki / Mount Cook": "Oceania",
    "Bora Bora": "Oceania",
    "Tahiti": "Oceania",
    "Great Dividing Range": "Oceania",
    "Kakadu National Park": "Oceania",
    "Twelve Apostles": "Oceania",
    "Polynesia": "Oceania",
    "Melanesia": "Oceania",
    "North Island": "Oceania",
    "South Island": "Oceania",
    # Antarctica
    "South Pole": "Antarctica",
    "Ross Ice Shelf": "Antarctica",
    "Mount Erebus": "Antarctica",
    "Vinson Massif": "Antarctica",
    "McMurdo Station": "Antarctica",
    "Antarctic Peninsula": "Antarctica",
    "Amundsen-Scott South Pole Station": "Antarctica",
    "Transantarctic Mountains": "Antarctica",
    "Lake Vostok": "Antarctica",
    "Vostok Station": "Antarctica",
    "Marie Byrd Land": "Antarctica",
    "Queen Maud Land": "Antarctica",
    "Ellsworth Land": "Antarctica",
    "McMurdo Dry Valleys": "Antarctica",
    "Filchner-Ronne Ice Shelf": "Antarctica",
    "Lambert Glacier": "Antarctica",
    "Palmer Station": "Antarctica",
    "Rothera Research Station": "Antarctica",
    "Deception Island": "Antarctica",
    "Wilkes Land": "Antarctica",
}

# US states not used for location_continent: Hawaii lies in Oceania, Georgia is also
# a country in the Caucasus.
US_STATES_SKIP: frozenset[str] = frozenset({"Hawaii", "Georgia"})

# --------------------------------------------------------------------------------------
# location_religion
# --------------------------------------------------------------------------------------
# Majority religion by population per standard demographic sources (national censuses,
# Pew Research Center estimates, CIA World Factbook). Left out on purpose because no
# religion has a clear majority (or sources disagree): China, Japan, South Korea,
# Vietnam, Taiwan, Singapore, Mongolia, North Korea, Czech Republic, Estonia, Latvia,
# Hungary, Germany, France, United Kingdom, Netherlands, Belgium, Luxembourg, Sweden,
# Norway, Albania, Bosnia and Herzegovina, North Macedonia, Canada, Australia,
# New Zealand, Uruguay, Cuba, Suriname, Trinidad and Tobago, Lebanon, Nigeria, Chad,
# Eritrea, Ivory Coast, Tanzania, Mozambique, Madagascar, Mauritius, Togo, Benin,
# Guinea-Bissau, South Sudan.

CHRISTIANITY = "Christianity"
ISLAM = "Islam"
HINDUISM = "Hinduism"
BUDDHISM = "Buddhism"
JUDAISM = "Judaism"

RELIGIONS: tuple[str, ...] = (CHRISTIANITY, ISLAM, HINDUISM, BUDDHISM, JUDAISM)

_CHRISTIAN_COUNTRIES = """
Andorra|Armenia|Austria|Belarus|Bulgaria|Croatia|Cyprus|Denmark|Finland|Georgia|Greece|
Iceland|Ireland|Italy|Liechtenstein|Lithuania|Malta|Moldova|Monaco|Montenegro|Poland|
Portugal|Romania|Russia|San Marino|Serbia|Slovakia|Slovenia|Spain|Switzerland|Ukraine|
Vatican City|
United States|Mexico|Guatemala|Belize|Honduras|El Salvador|Nicaragua|Costa Rica|Panama|
Dominican Republic|Haiti|Jamaica|Bahamas|Barbados|Saint Lucia|Grenada|
Saint Vincent and the Grenadines|Dominica|Antigua and Barbuda|Saint Kitts and Nevis|
Puerto Rico|Colombia|Venezuela|Ecuador|Peru|Bolivia|Chile|Argentina|Paraguay|Brazil|Guyana|
South Africa|Namibia|Botswana|Zimbabwe|Zambia|Malawi|Angola|Democratic Republic of the Congo|
Republic of the Congo|Gabon|Cameroon|Central African Republic|Rwanda|Burundi|Uganda|Kenya|
Ethiopia|Lesotho|Eswatini|Liberia|Ghana|Equatorial Guinea|Sao Tome and Principe|Cape Verde|
Seychelles|
Papua New Guinea|Fiji|Samoa|Tonga|Solomon Islands|Vanuatu|Kiribati|Tuvalu|Nauru|Palau|
Marshall Islands|Micronesia|
Philippines|East Timor
"""

_MUSLIM_COUNTRIES = """
Afghanistan|Algeria|Azerbaijan|Bahrain|Bangladesh|Brunei|Burkina Faso|Comoros|Djibouti|
Egypt|Gambia|Guinea|Indonesia|Iran|Iraq|Jordan|Kazakhstan|Kosovo|Kuwait|Kyrgyzstan|Libya|
Malaysia|Maldives|Mali|Mauritania|Morocco|Niger|Oman|Pakistan|Palestine|Qatar|Saudi Arabia|
Senegal|Sierra Leone|Somalia|Sudan|Syria|Tajikistan|Tunisia|Turkey|Turkmenistan|
United Arab Emirates|Uzbekistan|Yemen
"""

_HINDU_COUNTRIES = "India|Nepal"
_BUDDHIST_COUNTRIES = "Thailand|Myanmar|Cambodia|Sri Lanka|Bhutan|Laos"
_JEWISH_COUNTRIES = "Israel"

# Major cities (and a few regions) whose own population has a clear majority. Cities of
# the countries above whose own population differs from the national picture (e.g.
# Colombo, Kuala Lumpur, Vienna, Madrid, Zurich, Copenhagen, Sarajevo, Jerusalem,
# Hyderabad, Srinagar, Amritsar, Kochi) are left out.
_CHRISTIAN_CITIES = """
Rome|Milan|Naples|Turin|Florence|Venice|Palermo|Bologna|Genoa|Verona|Bari|Seville|Lisbon|
Porto|Dublin|Cork|Warsaw|Kraków|Gdańsk|Wrocław|Poznań|Athens|Thessaloniki|Bucharest|
Cluj-Napoca|Belgrade|Novi Sad|Zagreb|Split|Kyiv|Lviv|Vilnius|Valletta|Chișinău|Tbilisi|
Yerevan|
Mexico City|Guadalajara|Monterrey|Puebla|São Paulo|Rio de Janeiro|Salvador|Brasília|
Belo Horizonte|Fortaleza|Recife|Porto Alegre|Buenos Aires|Rosario|Bogotá|Medellín|Cali|
Lima|Cusco|Arequipa|Quito|Guayaquil|Caracas|Maracaibo|La Paz|Asunción|Guatemala City|
Tegucigalpa|San Salvador|Managua|Santo Domingo|Port-au-Prince|Dallas|Houston|Atlanta|
San Antonio|Nashville|Charlotte|Oklahoma City|New Orleans|Chicago|
Johannesburg|Cape Town|Durban|Pretoria|Nairobi|Kampala|Kigali|Luanda|Kinshasa|Accra|Kumasi|
Lusaka|Harare|Bulawayo|Windhoek|Gaborone|Addis Ababa|Monrovia|Enugu|Lilongwe|Blantyre|
Douala|Yaoundé|Libreville|Brazzaville|Bujumbura|Lubumbashi|Maseru|
Port Moresby|Apia|Nuku'alofa|Honiara|
Manila|Quezon City|Cebu City|Davao City|Dili
"""

_MUSLIM_CITIES = """
Mecca|Medina|Riyadh|Jeddah|Dammam|Tehran|Mashhad|Isfahan|Shiraz|Tabriz|Qom|Baghdad|Basra|
Mosul|Najaf|Karbala|Erbil|Karachi|Lahore|Islamabad|Rawalpindi|Faisalabad|Multan|Peshawar|
Quetta|Kabul|Kandahar|Herat|Dhaka|Chittagong|Sylhet|Khulna|Jakarta|Surabaya|Bandung|Semarang|
Makassar|Palembang|Yogyakarta|Banda Aceh|Istanbul|Ankara|Izmir|Bursa|Konya|Antalya|Trabzon|
Cairo|Alexandria|Giza|Casablanca|Rabat|Marrakesh|Fez|Tangier|Algiers|Oran|Tunis|Sfax|
Kairouan|Benghazi|Khartoum|Omdurman|Mogadishu|Dakar|Touba|Bamako|Niamey|Nouakchott|Conakry|
Amman|Zarqa|Irbid|Damascus|Aleppo|Homs|Sanaa|Aden|Muscat|Doha|Abu Dhabi|Sharjah|
Kuwait City|Manama|Tashkent|Samarkand|Bukhara|Baku|Ashgabat|Dushanbe|Bishkek|Astana|
Shymkent|Malé|Bandar Seri Begawan|Pristina|Gaza|Hebron|Nablus|Kano|Kota Bharu|Zanzibar|
Grozny
"""

_HINDU_CITIES = """
Delhi|New Delhi|Mumbai|Kolkata|Chennai|Bangalore|Ahmedabad|Pune|Jaipur|Varanasi|Lucknow|
Kanpur|Nagpur|Indore|Surat|Patna|Agra|Visakhapatnam|Madurai|Coimbatore|Vadodara|Ayodhya|
Haridwar|Rishikesh|Mathura|Ujjain|Puri|Tirupati|Bhubaneswar|Guwahati|Jodhpur|Udaipur|
Kathmandu|Pokhara|Biratnagar|Bali
"""

_BUDDHIST_CITIES = """
Bangkok|Chiang Mai|Phuket|Pattaya|Ayutthaya|Khon Kaen|Nakhon Ratchasima|Udon Thani|
Sukhothai|Chiang Rai|Yangon|Mandalay|Naypyidaw|Bagan|Phnom Penh|Siem Reap|Battambang|Kandy|
Anuradhapura|Vientiane|Luang Prabang|Thimphu|Paro|Lhasa|Tibet
"""

_JEWISH_CITIES = """
Tel Aviv|Haifa|Beersheba|Ashdod|Netanya|Rishon LeZion|Petah Tikva|Holon|Bnei Brak|
Ramat Gan|Herzliya|Rehovot|Eilat|Safed|Tiberias
"""


def _split(block: str) -> list[str]:
    return [item.strip() for item in block.replace("\n", "").split("|") if item.strip()]


def _table(*groups: tuple[str, str]) -> list[tuple[str, str]]:
    return [(name, religion) for block, religion in groups for name in _split(block)]


RELIGION_COUNTRIES: list[tuple[str, str]] = _table(
    (_CHRISTIAN_COUNTRIES, CHRISTIANITY),
    (_MUSLIM_COUNTRIES, ISLAM),
    (_HINDU_COUNTRIES, HINDUISM),
    (_BUDDHIST_COUNTRIES, BUDDHISM),
    (_JEWISH_COUNTRIES, JUDAISM),
)

RELIGION_CITIES: list[tuple[str, str]] = _table(
    (_CHRISTIAN_CITIES, CHRISTIANITY),
    (_MUSLIM_CITIES, ISLAM),
    (_HINDU_CITIES, HINDUISM),
    (_BUDDHIST_CITIES, BUDDHISM),
    (_JEWISH_CITIES, JUDAISM),
)

# --------------------------------------------------------------------------------------
# person_language
# --------------------------------------------------------------------------------------
# Famous people -> the language they natively spoke and wrote/worked in. People who grew
# up bilingual, wrote mainly in a second language, or whose first language is debated
# (e.g. Joseph Conrad, Vladimir Nabokov, Samuel Beckett, Jorge Luis Borges, Franz Kafka,
# Sigmund Freud, Napoleon, Joseph Stalin, Marie Curie, Nicolaus Copernicus, Franz Liszt,
# Jean Sibelius, Fernando Pessoa, Khalil Gibran, Erasmus, Spinoza, Anne Frank, Salvador
# Dali, Rafael Nadal, Narendra Modi, Zlatan Ibrahimovic) are left out.

_PEOPLE: dict[str, str] = {
    "English": """
William Shakespeare|Charles Dickens|Jane Austen|Mark Twain|Ernest Hemingway|Virginia Woolf|
George Orwell|Agatha Christie|J. K. Rowling|Stephen King|Abraham Lincoln|Winston Churchill|
George Washington|Isaac Newton|Charles Darwin|Emily Dickinson|Walt Whitman|Edgar Allan Poe|
John Steinbeck|F. Scott Fitzgerald|Toni Morrison|Herman Melville|Oscar Wilde|Mary Shelley|
William Wordsworth|John Keats|John Milton|Charlotte Brontë|Thomas Hardy|H. G. Wells|
Jonathan Swift|Daniel Defoe|Lewis Carroll|J. R. R. Tolkien|Margaret Atwood|Barack Obama|
Martin Luther King Jr.|Elvis Presley|Bob Dylan|Michael Jordan|Neil Armstrong|
Benjamin Franklin|Thomas Jefferson|John F. Kennedy|Margaret Thatcher|James Joyce|Harper Lee|
Maya Angelou|Robert Frost|William Faulkner|Taylor Swift
""",
    "French": """
Victor Hugo|Molière|Voltaire|Jean-Paul Sartre|Albert Camus|Honoré de Balzac|Gustave Flaubert|
Émile Zola|Alexandre Dumas|Marcel Proust|Charles Baudelaire|Arthur Rimbaud|Jules Verne|
Guy de Maupassant|Simone de Beauvoir|Charles de Gaulle|Emmanuel Macron|Jean-Jacques Rousseau|
René Descartes|Blaise Pascal|Claude Debussy|Édith Piaf|Stendhal|Jean Racine|
Antoine de Saint-Exupéry|Louis Pasteur|Claude Monet|Hector Berlioz|Georges Bizet|
Jacques Chirac|François Mitterrand|Gérard Depardieu|Jean de La Fontaine|Pierre Corneille|
Alexis de Tocqueville|Auguste Rodin|Pierre-Auguste Renoir|Annie Ernaux
""",
    "German": """
Johann Wolfgang von Goethe|Friedrich Schiller|Thomas Mann|Hermann Hesse|Bertolt Brecht|
Günter Grass|Heinrich Heine|Friedrich Nietzsche|Immanuel Kant|Karl Marx|
Georg Wilhelm Friedrich Hegel|Martin Luther|Ludwig van Beethoven|Johann Sebastian Bach|
Richard Wagner|Johannes Brahms|Wolfgang Amadeus Mozart|Albert Einstein|Angela Merkel|
Otto von Bismarck|Arthur Schopenhauer|Max Planck|Franz Schubert|Robert Schumann|Stefan Zweig|
Erich Maria Remarque|Michael Schumacher|Franz Beckenbauer|Konrad Adenauer|Rainer Maria Rilke|
Gustav Mahler|Olaf Scholz|Helmut Kohl|Martin Heidegger|Max Weber|Heinrich Böll
""",
    "Italian": """
Dante Alighieri|Petrarch|Giovanni Boccaccio|Niccolò Machiavelli|Galileo Galilei|
Leonardo da Vinci|Michelangelo|Umberto Eco|Alessandro Manzoni|Giuseppe Verdi|
Giacomo Puccini|Antonio Vivaldi|Gioachino Rossini|Luciano Pavarotti|Federico Fellini|
Benito Mussolini|Primo Levi|Luigi Pirandello|Silvio Berlusconi|Enrico Fermi|
Maria Montessori|Giacomo Leopardi|Alessandro Volta|Sophia Loren|Raphael|Sandro Botticelli|
Giorgio Armani|Andrea Bocelli|Roberto Benigni|Valentino Rossi|Giorgia Meloni|
Sergio Mattarella|Dario Fo|Eugenio Montale|Salvatore Quasimodo|Cesare Pavese
""",
    "Spanish": """
Miguel de Cervantes|Gabriel García Márquez|Pablo Neruda|Federico García Lorca|Octavio Paz|
Mario Vargas Llosa|Isabel Allende|Lope de Vega|Francisco Goya|Pablo Picasso|Lionel Messi|
Diego Maradona|Fidel Castro|Che Guevara|Simón Bolívar|Frida Kahlo|Diego Rivera|
Gabriela Mistral|Juan Rulfo|Rubén Darío|Antonio Machado|Pedro Almodóvar|Penélope Cruz|
Hugo Chávez|Eva Perón|Francisco Franco|Benito Pérez Galdós|Roberto Bolaño|Diego Velázquez|
Pedro Calderón de la Barca|Miguel de Unamuno|Juan Ramón Jiménez|Gustavo Adolfo Bécquer|
Luis Buñuel|Javier Bardem|Fernando Alonso|Andrés Iniesta
""",
    "Portuguese": """
Luís de Camões|José Saramago|Eça de Queirós|Paulo Coelho|Machado de Assis|Jorge Amado|Pelé|
Cristiano Ronaldo|Ayrton Senna|Vasco da Gama|Pedro Álvares Cabral|Luiz Inácio Lula da Silva|
Heitor Villa-Lobos|Carlos Drummond de Andrade|Oscar Niemeyer|José Mourinho|Amália Rodrigues|
Neymar|Ronaldinho|Jair Bolsonaro|Gilberto Gil|Caetano Veloso|Chico Buarque|João Gilberto|
António de Oliveira Salazar|Ferdinand Magellan
""",
    "Russian": """
Leo Tolstoy|Fyodor Dostoevsky|Anton Chekhov|Alexander Pushkin|Ivan Turgenev|
Mikhail Lermontov|Boris Pasternak|Aleksandr Solzhenitsyn|Mikhail Bulgakov|Maxim Gorky|
Anna Akhmatova|Pyotr Ilyich Tchaikovsky|Sergei Rachmaninoff|Modest Mussorgsky|
Nikolai Rimsky-Korsakov|Dmitri Shostakovich|Igor Stravinsky|Vladimir Lenin|Vladimir Putin|
Mikhail Gorbachev|Yuri Gagarin|Dmitri Mendeleev|Ivan Pavlov|Marina Tsvetaeva|Ivan Bunin|
Andrei Tarkovsky|Boris Yeltsin|Alexei Navalny
""",
    "Japanese": """
Haruki Murakami|Yukio Mishima|Yasunari Kawabata|Natsume Sōseki|Ryūnosuke Akutagawa|
Kenzaburō Ōe|Hayao Miyazaki|Akira Kurosawa|Matsuo Bashō|Murasaki Shikibu|Shinzo Abe|
Osamu Tezuka|Shohei Ohtani|Oda Nobunaga|Tokugawa Ieyasu|Hideki Yukawa|Fumio Kishida|
Ichiro Suzuki|Takeshi Kitano|Katsushika Hokusai|Osamu Dazai
""",
    "Chinese": """
Confucius|Laozi|Sun Tzu|Li Bai|Du Fu|Lu Xun|Mao Zedong|Deng Xiaoping|Xi Jinping|Mo Yan|
Cao Xueqin|Yao Ming|Zhou Enlai|Jackie Chan|Qin Shi Huang|Zhuangzi|Ba Jin|Lao She|Jack Ma|
Lang Lang|Sun Yat-sen|Chiang Kai-shek|Hu Jintao
""",
    "Arabic": """
Naguib Mahfouz|Gamal Abdel Nasser|Anwar Sadat|Umm Kulthum|Mahmoud Darwish|Ibn Khaldun|
Al-Mutanabbi|Saddam Hussein|Muammar Gaddafi|Yasser Arafat|Hosni Mubarak|Taha Hussein|
Nizar Qabbani|Fairuz|Mohamed Salah|Averroes|Tawfiq al-Hakim|Bashar al-Assad|Hafez al-Assad|
Abdel Fattah el-Sisi|Amr Diab
""",
    "Dutch": """
Vincent van Gogh|Rembrandt|Johan Cruyff|Christiaan Huygens|Piet Mondrian|Johannes Vermeer|
Multatuli|Mark Rutte|Antonie van Leeuwenhoek|Joost van den Vondel|Hieronymus Bosch|
Max Verstappen|Arjen Robben|Harry Mulisch|Cees Nooteboom|Frans Hals|Johan Huizinga|
Hendrik Lorentz|Dick Bruna
""",
    "Swedish": """
August Strindberg|Selma Lagerlöf|Astrid Lindgren|Alfred Nobel|Carl Linnaeus|Ingmar Bergman|
Greta Garbo|Björn Borg|Greta Thunberg|Stieg Larsson|Dag Hammarskjöld|Anders Celsius|
Tomas Tranströmer|Henning Mankell
""",
    "Norwegian": """
Henrik Ibsen|Edvard Grieg|Edvard Munch|Knut Hamsun|Roald Amundsen|Jon Fosse|Magnus Carlsen|
Fridtjof Nansen|Bjørnstjerne Bjørnson|Karl Ove Knausgård|Thor Heyerdahl
""",
    "Danish": """
Hans Christian Andersen|Søren Kierkegaard|Niels Bohr|Tycho Brahe|Carl Nielsen|Lars von Trier|
Mads Mikkelsen|Hans Christian Ørsted
""",
    "Finnish": """
Aleksis Kivi|Elias Lönnrot|Kimi Räikkönen|Mika Häkkinen|Paavo Nurmi|Urho Kekkonen|
Sauli Niinistö|Eino Leino|Sanna Marin
""",
    "Polish": """
Adam Mickiewicz|Henryk Sienkiewicz|Wisława Szymborska|Czesław Miłosz|Frédéric Chopin|
Lech Wałęsa|Pope John Paul II|Stanisław Lem|Olga Tokarczuk|Robert Lewandowski|Andrzej Wajda|
Witold Gombrowicz|Bolesław Prus|Krzysztof Penderecki|Iga Świątek|Juliusz Słowacki|
Krzysztof Kieślowski|Józef Piłsudski
""",
    "Czech": """
Karel Čapek|Václav Havel|Bohumil Hrabal|Antonín Dvořák|Jaroslav Hašek|Leoš Janáček|
Jaromír Jágr|Emil Zátopek|Jan Hus|Jaroslav Seifert|Alfons Mucha|Miloš Forman
""",
    "Greek": """
Homer|Plato|Aristotle|Socrates|Sophocles|Euripides|Aeschylus|Herodotus|Thucydides|Archimedes|
Nikos Kazantzakis|Odysseas Elytis|Giorgos Seferis|Mikis Theodorakis|Hippocrates|Pythagoras|
Alexis Tsipras|Yanis Varoufakis|Sappho|Aristophanes|Epicurus|Pericles
""",
    "Latin": """
Cicero|Virgil|Julius Caesar|Ovid|Horace|Seneca the Younger|Augustus|Tacitus|Livy|Lucretius|
Catullus|Pliny the Elder|Juvenal|Cato the Elder
""",
    "Hindi": """
Atal Bihari Vajpayee|Mahadevi Varma|Maithili Sharan Gupt|Harivansh Rai Bachchan
""",
    "Bengali": """
Rabindranath Tagore|Satyajit Ray|Kazi Nazrul Islam|Sheikh Mujibur Rahman|
Bankim Chandra Chattopadhyay|Sarat Chandra Chattopadhyay|Swami Vivekananda|Jibanananda Das|
Sheikh Hasina|Ishwar Chandra Vidyasagar
""",
    "Tamil": """
Subramania Bharati|A. R. Rahman|Thiruvalluvar|Kamal Haasan|Viswanathan Anand|
Srinivasa Ramanujan|C. V. Raman|Mani Ratnam
""",
    "Persian": """
Rumi|Hafez|Ferdowsi|Omar Khayyam|Saadi Shirazi|Ruhollah Khomeini|Abbas Kiarostami|
Asghar Farhadi|Sadegh Hedayat|Forugh Farrokhzad|Mahmoud Ahmadinejad|Hassan Rouhani|
Attar of Nishapur
""",
    "Turkish": """
Orhan Pamuk|Nazım Hikmet|Mustafa Kemal Atatürk|Recep Tayyip Erdoğan|Aziz Nesin|
Sait Faik Abasıyanık|Ahmet Hamdi Tanpınar|Turgut Özal|Yunus Emre|Süleyman Demirel|
Hakan Şükür|Sezen Aksu|Nuri Bilge Ceylan
""",
    "Korean": """
Kim Jong-un|Park Chung-hee|Kim Dae-jung|Moon Jae-in|Han Kang|Ko Un|Bong Joon-ho|
Park Chan-wook|Son Heung-min|Kim Il-sung|Sejong the Great|Yi Sun-sin|Ban Ki-moon|
Yoon Suk Yeol|Park Geun-hye|Kim Yuna
""",
    "Hebrew": """
Amos Oz|David Grossman|Etgar Keret|Benjamin Netanyahu|Yitzhak Rabin|Moshe Dayan|Meir Shalev|
Naomi Shemer|Yuval Noah Harari|Ehud Barak|Gal Gadot
""",
    "Hungarian": """
Imre Kertész|Béla Bartók|Ferenc Puskás|Viktor Orbán|Attila József|Mór Jókai|Sándor Márai|
Zoltán Kodály|Ernő Rubik|László Krasznahorkai|Endre Ady|Imre Nagy
""",
    "Romanian": """
Mihai Eminescu|Constantin Brâncuși|Nadia Comăneci|Mircea Eliade|George Enescu|Ion Creangă|
Nicolae Ceaușescu|Ion Luca Caragiale|Lucian Blaga
""",
    "Ukrainian": """
Taras Shevchenko|Lesya Ukrainka|Ivan Franko|Oleksandr Dovzhenko|Mykhailo Kotsiubynsky
""",
    "Vietnamese": """
Ho Chi Minh|Nguyễn Du|Võ Nguyên Giáp|Thích Nhất Hạnh|Ngô Đình Diệm|Nguyễn Trãi
""",
    "Icelandic": "Halldór Laxness|Björk|Vigdís Finnbogadóttir",
    "Albanian": "Ismail Kadare|Enver Hoxha",
    "Yiddish": "Sholem Aleichem|Isaac Bashevis Singer",
    "Bulgarian": "Ivan Vazov|Hristo Stoichkov",
    "Georgian": "Shota Rustaveli|Ilia Chavchavadze",
}

PERSON_LANGUAGE: list[tuple[str, str]] = [
    (person, language) for language, block in _PEOPLE.items() for person in _split(block)
]
