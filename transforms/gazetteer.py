"""Name lists that correct the small spaCy model's typical confusions (used by ``entities``).

Plain data, written for newsbeam: countries, demonyms, capitals and large cities, first-level
regions, seas/regions (LOC), international organisations, large companies, a few products,
abbreviation aliases and common given names. A listed name overrides the model's label for a
span with exactly that text, and is added where the model missed it (unless it is ambiguous).
Keep entries unambiguous: a word that is often a person, a company or a common noun does not
belong here (see ``AMBIGUOUS``).
"""
from __future__ import annotations

from typing import Dict, FrozenSet


def _names(block: str) -> list:
    """One name per line or ';'-separated; blank lines ignored."""
    return [n.strip() for line in block.strip().splitlines() for n in line.split(";") if n.strip()]


COUNTRIES = _names("""
Afghanistan; Albania; Algeria; Andorra; Angola; Antigua and Barbuda; Argentina; Armenia; Australia
Austria; Azerbaijan; Bahamas; Bahrain; Bangladesh; Barbados; Belarus; Belgium; Belize; Benin
Bhutan; Bolivia; Bosnia and Herzegovina; Bosnia; Botswana; Brazil; Brunei; Bulgaria; Burkina Faso
Burundi; Cambodia; Cameroon; Canada; Cape Verde; Central African Republic; Chile; China; Colombia
Comoros; Congo; Democratic Republic of Congo; Democratic Republic of the Congo; Costa Rica
Croatia; Cuba; Cyprus; Czech Republic; Czechia; Denmark; Djibouti; Dominican Republic; Ecuador
Egypt; El Salvador; Equatorial Guinea; Eritrea; Estonia; Eswatini; Ethiopia; Fiji; Finland; France
Gabon; Gambia; Germany; Ghana; Greece; Grenada; Guatemala; Guinea; Guinea-Bissau; Guyana; Haiti
Honduras; Hungary; Iceland; India; Indonesia; Iran; Iraq; Ireland; Israel; Italy; Ivory Coast
Jamaica; Japan; Kazakhstan; Kenya; Kiribati; Kosovo; Kuwait; Kyrgyzstan; Laos; Latvia; Lebanon
Lesotho; Liberia; Libya; Liechtenstein; Lithuania; Luxembourg; Madagascar; Malawi; Malaysia
Maldives; Mali; Malta; Mauritania; Mauritius; Mexico; Micronesia; Moldova; Monaco; Mongolia
Montenegro; Morocco; Mozambique; Myanmar; Namibia; Nauru; Nepal; Netherlands; New Zealand
Nicaragua; Niger; Nigeria; North Korea; North Macedonia; Norway; Oman; Pakistan; Palau; Palestine
Panama; Papua New Guinea; Paraguay; Peru; Philippines; Poland; Portugal; Qatar; Romania; Russia
Rwanda; Saint Lucia; Samoa; San Marino; Saudi Arabia; Senegal; Serbia; Seychelles; Sierra Leone
Singapore; Slovakia; Slovenia; Solomon Islands; Somalia; South Africa; South Korea; South Sudan
Spain; Sri Lanka; Sudan; Suriname; Sweden; Switzerland; Syria; Taiwan; Tajikistan; Tanzania
Thailand; Timor-Leste; East Timor; Togo; Tonga; Trinidad and Tobago; Tunisia; Turkey; Turkmenistan
Tuvalu; Uganda; Ukraine; United Arab Emirates; United Kingdom; United States; Uruguay; Uzbekistan
Vanuatu; Vatican; Venezuela; Vietnam; Yemen; Zambia; Zimbabwe; Greenland; Puerto Rico; Hong Kong
Macau; Gaza; Gaza Strip; West Bank; Crimea; Scotland; England; Wales; Northern Ireland; Tibet
Kurdistan; Catalonia; Bavaria; Quebec; Chechnya; Transnistria; Abkhazia; Somaliland; Western Sahara
America; Britain; Great Britain; Holland
""")

# First-level regions that news names without a country: US states, Canadian provinces,
# Australian states, large Indian/Chinese/Brazilian/Ukrainian/Russian regions.
REGIONS = _names("""
Alabama; Alaska; Arizona; Arkansas; California; Colorado; Connecticut; Delaware; Florida; Hawaii
Idaho; Illinois; Indiana; Iowa; Kansas; Kentucky; Louisiana; Maine; Maryland; Massachusetts
Michigan; Minnesota; Mississippi; Missouri; Montana; Nebraska; Nevada; New Hampshire; New Jersey
New Mexico; North Carolina; North Dakota; Ohio; Oklahoma; Oregon; Pennsylvania; Rhode Island
South Carolina; South Dakota; Tennessee; Texas; Utah; Vermont; Virginia; West Virginia; Wisconsin
Wyoming; Alberta; British Columbia; Manitoba; New Brunswick; Newfoundland; Nova Scotia; Ontario
Saskatchewan; New South Wales; Queensland; Tasmania; Western Australia; Kerala; Maharashtra
Punjab; Kashmir; Tamil Nadu; Karnataka; Uttar Pradesh; Gujarat; West Bengal; Bihar; Xinjiang
Guangdong; Sichuan; Hubei; Zhejiang; Fujian; Sao Paulo; São Paulo; Rio Grande do Sul; Donetsk
Luhansk; Zaporizhzhia; Kherson; Kharkiv; Dnipro; Sumy; Kursk; Belgorod; Siberia; Darfur; Tigray
Kordofan; Balochistan; Sindh; Azores; Madeira; Sicily; Sardinia; Corsica; Lombardy; Tuscany
Andalusia; Bali; Java; Sumatra; Mindanao; Hokkaido; Okinawa; Svalbard
""")

CITIES = _names("""
Kabul; Tirana; Algiers; Luanda; Buenos Aires; Yerevan; Canberra; Vienna; Baku; Manama; Dhaka
Minsk; Brussels; Thimphu; La Paz; Sarajevo; Gaborone; Brasilia; Brasília; Sofia; Ouagadougou
Phnom Penh; Yaounde; Ottawa; Santiago; Beijing; Bogota; Bogotá; Kinshasa; Brazzaville; San Jose
Zagreb; Havana; Nicosia; Prague; Copenhagen; Quito; Cairo; San Salvador; Asmara; Tallinn
Addis Ababa; Suva; Helsinki; Paris; Libreville; Banjul; Tbilisi; Berlin; Accra; Athens
Guatemala City; Conakry; Georgetown; Port-au-Prince; Tegucigalpa; Budapest; Reykjavik; New Delhi
Delhi; Jakarta; Tehran; Baghdad; Dublin; Jerusalem; Rome; Kingston; Tokyo; Amman; Astana; Nairobi
Pristina; Kuwait City; Bishkek; Vientiane; Riga; Beirut; Maseru; Monrovia; Tripoli; Vilnius
Antananarivo; Lilongwe; Kuala Lumpur; Male; Bamako; Valletta; Nouakchott; Port Louis; Mexico City
Chisinau; Ulaanbaatar; Podgorica; Rabat; Maputo; Naypyidaw; Windhoek; Kathmandu; Amsterdam
The Hague; Wellington; Managua; Niamey; Abuja; Pyongyang; Skopje; Oslo; Muscat; Islamabad
Panama City; Port Moresby; Asuncion; Lima; Manila; Warsaw; Lisbon; Doha; Bucharest; Moscow; Kigali
Riyadh; Dakar; Belgrade; Freetown; Bratislava; Ljubljana; Mogadishu; Pretoria; Johannesburg
Cape Town; Seoul; Juba; Madrid; Colombo; Khartoum; Omdurman; Paramaribo; Stockholm; Bern; Damascus
Taipei; Dushanbe; Dodoma; Dar es Salaam; Bangkok; Lome; Tunis; Ankara; Istanbul; Ashgabat; Kampala
Kyiv; Kiev; Abu Dhabi; Dubai; London; Washington; Montevideo; Tashkent; Caracas; Hanoi
Ho Chi Minh City; Sanaa; Lusaka; Harare; New York; New York City; Los Angeles; Chicago; Houston
San Francisco; Seattle; Boston; Miami; Atlanta; Dallas; Denver; Detroit; Philadelphia; Las Vegas
San Diego; Silicon Valley; Toronto; Montreal; Vancouver; Calgary; Sydney; Melbourne; Brisbane
Perth; Auckland; Shanghai; Shenzhen; Guangzhou; Wuhan; Chongqing; Tianjin; Mumbai; Bangalore
Bengaluru; Chennai; Kolkata; Hyderabad; Karachi; Lahore; Osaka; Kyoto; Yokohama; Busan; Singapore
Frankfurt; Munich; Hamburg; Cologne; Milan; Naples; Venice; Turin; Barcelona; Valencia; Seville
Marseille; Lyon; Geneva; Zurich; Rotterdam; Antwerp; Manchester; Birmingham; Liverpool; Glasgow
Edinburgh; Belfast; Cardiff; St Petersburg; St. Petersburg; Saint Petersburg; Odesa; Odessa
Lviv; Mariupol; Bakhmut; Kherson; Sevastopol; Gdansk; Krakow; Rio de Janeiro; Sao Paulo; Lagos
Casablanca; Alexandria; Tel Aviv; Haifa; Gaza City; Rafah; Khan Younis; Ramallah; Aleppo; Mosul
Basra; Erbil; Jeddah; Mecca; Medina; Davos; Strasbourg; Luxembourg City; Monte Carlo; Kaliningrad
Novosibirsk; Vladivostok; Minneapolis; Phoenix; Portland; Sacramento; Baltimore; Pittsburgh
Cleveland; New Orleans; Nashville; Honolulu; Anchorage; Havana; Medellin; Cali; Guadalajara
Monterrey; Tijuana; Quebec City; Santos; Kharkiv; Kolkata; Ahmedabad; Pune; Dhaka; Chittagong
Yangon; Mandalay; Hanoi; Da Nang; Phuket; Cebu; Surabaya; Bandung; Penang; Macau; Hong Kong
Nagoya; Fukuoka; Sapporo; Hiroshima; Nagasaki; Incheon; Pyeongtaek; Kaohsiung; Xi'an; Lhasa
""")

DEMONYMS = _names("""
Afghan; Albanian; Algerian; American; Americans; Argentine; Argentinian; Armenian; Australian
Austrian; Azerbaijani; Bangladeshi; Belarusian; Belgian; Bolivian; Bosnian; Brazilian; British
Bulgarian; Cambodian; Cameroonian; Canadian; Chilean; Chinese; Colombian; Congolese; Croatian
Cuban; Cypriot; Czech; Danish; Dutch; Ecuadorian; Egyptian; Emirati; English; Eritrean; Estonian
Ethiopian; European; Europeans; Filipino; Finnish; French; Georgian; German; Germans; Ghanaian
Greek; Guatemalan; Haitian; Honduran; Hungarian; Icelandic; Indian; Indonesian; Iranian; Iraqi
Irish; Israeli; Israelis; Italian; Ivorian; Jamaican; Japanese; Jordanian; Kazakh; Kenyan; Korean
Kosovar; Kurdish; Kurds; Kuwaiti; Latvian; Lebanese; Libyan; Lithuanian; Malaysian; Malian
Mexican; Moldovan; Mongolian; Moroccan; Nepali; Nigerian; Norwegian; Pakistani; Palestinian
Palestinians; Panamanian; Peruvian; Polish; Portuguese; Qatari; Romanian; Russian; Russians
Rwandan; Saudi; Scottish; Senegalese; Serbian; Singaporean; Slovak; Slovenian; Somali
South African; South Korean; North Korean; Spanish; Spaniard; Sri Lankan; Sudanese; Swedish; Swiss
Syrian; Taiwanese; Thai; Tunisian; Turkish; Ugandan; Ukrainian; Ukrainians; Uruguayan; Uzbek
Venezuelan; Vietnamese; Welsh; Yemeni; Zambian; Zimbabwean; Western; Arab; Arabs; Asian
African; Latino; Hispanic; Muslim; Muslims; Christian; Christians; Jewish; Jews; Hindu; Hindus
Sikh; Buddhist; Catholic; Catholics; Protestant; Sunni; Shia; Shiite; Democrat; Democrats
Republican; Republicans; Labour; Tory; Tories; Conservatives; Liberal Democrats; Social Democrats
Greens; Pashtun; Uyghur; Uighur; Rohingya; Tamil; Kashmiri; Basque; Catalan; Flemish
""")

LOCATIONS = _names("""
Europe; Asia; Africa; North America; South America; Latin America; Central America; Oceania
Antarctica; Arctic; Antarctic; Middle East; Near East; Far East; East Asia; South Asia
Southeast Asia; Central Asia; West Africa; East Africa; North Africa; Southern Africa
Sub-Saharan Africa; Horn of Africa; Sahel; Sahara; Balkans; Caucasus; Scandinavia; Baltics
Eastern Europe; Western Europe; Central Europe; Mediterranean; Atlantic; Pacific; Indian Ocean
Atlantic Ocean; Pacific Ocean; Arctic Ocean; Southern Ocean; North Atlantic; South Atlantic
North Sea; Baltic Sea; Black Sea; Red Sea; Caspian Sea; Dead Sea; South China Sea; East China Sea
Sea of Japan; Sea of Azov; Arabian Sea; Persian Gulf; Gulf of Mexico; Gulf of Aden; Caribbean
Bosphorus; Dardanelles; Strait of Hormuz; Taiwan Strait; English Channel; Suez Canal
Panama Canal; Alps; Andes; Himalayas; Rockies; Rocky Mountains; Urals; Pyrenees; Mount Everest
Nile; Danube; Rhine; Amazon River; Mississippi River; Yangtze; Mekong; Ganges; Dnipro River
Euphrates; Tigris; Jordan River; Mid-Atlantic Ridge; Gulf Coast; West Coast; East Coast; Midwest
Amazon rainforest; Atacama Desert; Gobi Desert; Siberian; Patagonia; Arabian Peninsula
Korean Peninsula; Iberian Peninsula; Great Lakes; Lake Victoria; Lake Geneva; Outback
""")

ORGANIZATIONS = _names("""
United Nations; UN Security Council; Security Council; General Assembly; World Health Organization
World Bank; International Monetary Fund; World Trade Organization; NATO; European Union
European Commission; European Parliament; European Council; European Central Bank
Council of Europe; OSCE; OPEC; ASEAN; African Union; Arab League; Gulf Cooperation Council; BRICS
G7; G20; OECD; IAEA; International Atomic Energy Agency; International Criminal Court
International Court of Justice; UNICEF; UNESCO; UNHCR; UNRWA; World Food Programme
International Energy Agency; Interpol; Europol; Red Cross; International Committee of the Red Cross
Red Crescent; Amnesty International; Human Rights Watch; Greenpeace; Medecins Sans Frontieres
Doctors Without Borders; World Economic Forum; Federal Reserve; Bank of England; Bank of Japan
People's Bank of China; Reserve Bank of India; Bundesbank; Pentagon; Kremlin; White House
State Department; Justice Department; Commerce Department; Treasury Department
Department of Justice; Department of Defense; Department of Homeland Security; FBI; CIA; NSA
NASA; ESA; European Space Agency; Federal Trade Commission; Securities and Exchange Commission
Food and Drug Administration; Centers for Disease Control and Prevention; National Institutes of Health
Federal Aviation Administration; Environmental Protection Agency; Drug Enforcement Administration
Congress; Senate; House of Representatives; Supreme Court; Parliament; Bundestag; Knesset; Duma
Hamas; Hezbollah; Taliban; Islamic State; Houthis; Wagner Group; Mossad; Shin Bet; MI5; MI6; FSB
Apple; Google; Alphabet; Microsoft; Nvidia; OpenAI; Anthropic; Meta; Facebook; Instagram
WhatsApp; TikTok; ByteDance; Tesla; SpaceX; Netflix; Disney; Intel; AMD; Qualcomm; Broadcom
TSMC; Samsung; Samsung Electronics; SK Hynix; Huawei; Xiaomi; Alibaba; Tencent; Baidu; Sony
Toyota; Honda; Nissan; Hyundai; Volkswagen; BMW; Mercedes-Benz; Stellantis; Ford; General Motors
Renault; Boeing; Airbus; Lockheed Martin; Raytheon; Siemens; Bosch; BASF; Bayer; Shell; BP
ExxonMobil; Exxon Mobil; Chevron; TotalEnergies; Aramco; Saudi Aramco; Gazprom; Rosneft
Goldman Sachs; JPMorgan; JPMorgan Chase; Morgan Stanley; Citigroup; Bank of America
Wells Fargo; BlackRock; HSBC; Barclays; Deutsche Bank; UBS; BNP Paribas; Santander; Nomura
Pfizer; Moderna; AstraZeneca; Novartis; Roche; Johnson & Johnson; Novo Nordisk; Eli Lilly
Walmart; Amazon; eBay; IBM; Oracle; Cisco; Salesforce; Adobe; Uber; Airbnb; PayPal; Visa
Mastercard; Maersk; FedEx; UPS; Nestle; Unilever; Coca-Cola; PepsiCo; Starbucks; McDonald's
Reuters; Associated Press; Bloomberg; BBC; CNN; Al Jazeera; Nasdaq; New York Stock Exchange
London Stock Exchange; Euroclear; Linux Foundation; Safaricom; Alibaba Cloud; Amazon Web Services
Valve; Epic Games; Ryanair; Lufthansa; Emirates; Qatar Airways; Delta Air Lines; United Airlines
American Airlines; Glencore; Rio Tinto; BHP; ArcelorMittal; Foxconn; ASML; Arm; Palantir
""")

PRODUCTS = _names("""
iPhone; iPad; Mac; MacBook; Siri; Android; Windows; ChatGPT; Gemini; Copilot; PlayStation; Xbox
Nintendo Switch; Boeing 737; Boeing 737 MAX; Boeing 787; Airbus A320; Airbus A350; Starlink
Falcon 9; Patriot; HIMARS; F-35; F-16; Bitcoin; Ethereum
""")

EVENTS = _names("""
World Cup; Olympics; Olympic Games; Paralympics; Super Bowl; World Series; Tour de France
Wimbledon; French Open; US Open; Australian Open; Champions League; Premier League
Eurovision; Cannes Film Festival; Venice Film Festival; Oscars; Grammys; COP30; COP29; Brexit
World War II; World War I; Cold War
""")

# Forms that name the same entity as the canonical one (lookup is case-sensitive).
ALIASES: Dict[str, str] = {
    "U.S.": "United States", "US": "United States", "U.S": "United States", "USA": "United States",
    "U.S.A.": "United States", "United States of America": "United States",
    "the United States": "United States",
    "U.K.": "United Kingdom", "UK": "United Kingdom", "Britain": "United Kingdom",
    "Great Britain": "United Kingdom",
    "EU": "European Union", "E.U.": "European Union",
    "UN": "United Nations", "U.N.": "United Nations",
    "IMF": "International Monetary Fund", "WHO": "World Health Organization",
    "WTO": "World Trade Organization", "ECB": "European Central Bank",
    "UAE": "United Arab Emirates", "Kiev": "Kyiv", "Odessa": "Odesa",
    "Brasilia": "Brasília", "Sao Paulo": "São Paulo", "Bogota": "Bogotá",
    "St. Petersburg": "Saint Petersburg", "St Petersburg": "Saint Petersburg",
    "Czechia": "Czech Republic", "Holland": "Netherlands", "Exxon Mobil": "ExxonMobil",
    "Doctors Without Borders": "Medecins Sans Frontieres", "Kiev's": "Kyiv",
}

# Listed names that are too often something else to be *added* where the model saw nothing,
# or to take a PERSON label away (Jordan, Georgia, Chad ... are also given names; Amazon, Apple,
# Meta, Mobile, Nice are common words).
AMBIGUOUS: FrozenSet[str] = frozenset(_names("""
Jordan; Georgia; Chad; Niger; Guinea; Victoria; Florence; Austin; Paris; Sydney; Phoenix; Mobile
Santiago; Lima; Male; Sofia; Kingston; Wellington; Georgetown; San Jose; Valencia; Cali; Perth
Apple; Amazon; Meta; Visa; Arm; Shell; Intel; Oracle; Ford; Valve; Emirates; Gemini; Copilot
Windows; Patriot; Mac; Congress; Senate; Parliament; Supreme Court; Security Council; Western
Labour; Greens; Liberal Democrats; Christian; Catholic; Arctic; Atlantic; Pacific; America
Dakar; Nice; Reading; Washington; Santos; Medina; Mecca; Sahel; Arab; Asian; African; Democrat
Republican; Tory; Midwest; West Coast; East Coast; Gulf Coast; General Assembly; UPS; Nomura
"""))

_GAZETTEER: Dict[str, str] = {}
for _label, _group in (("LOC", LOCATIONS), ("NORP", DEMONYMS), ("GPE", REGIONS), ("GPE", CITIES),
                       ("GPE", COUNTRIES), ("ORG", ORGANIZATIONS), ("PRODUCT", PRODUCTS),
                       ("EVENT", EVENTS)):
    for _name in _group:
        _GAZETTEER[_name] = _label  # later groups win (Singapore the country, Luxembourg ...)
GAZETTEER: Dict[str, str] = _GAZETTEER
for _alias, _canonical in ALIASES.items():
    assert _canonical in GAZETTEER, _canonical

# Given names common in English-language news (many origins). Used for one rule only: a
# two- or three-word span the model labelled ORG/GPE/... whose first word is one of these (and
# that is not a listed place or organisation) is a person. Place-like names are left out.
GIVEN_NAMES: FrozenSet[str] = frozenset("""
Aaron Abdul Abdullah Abigail Abu Ada Adam Adebayo Adeel Adele Adrian Agnes Ahmad Ahmed Aidan
Aisha Alan Albert Alberto Alejandro Aleksandr Alessandro Alex Alexander Alexandra Alexei Alfonso
Alfred Ali Alice Alicia Alina Alison Allison Alvaro Amanda Amara Amelia Amina Amir Amit Amy Ana
Anastasia Anders Andre Andrea Andreas Andrei Andres Andrew Andrzej Angela Angelo Anil Anita Ann
Anna Anne Annika Antoine Anton Antonio Anwar Arjun Arnav Arne Aryna Asha Ashley Aslan Aurelien
Ayesha Aziz Barbara Beatriz Ben Benjamin Bernard Bernardo Beth Bilal Bill Bjorn Blessing Bob Boris
Brandon Brenda Brian Bruno Bukola Camila Carl Carla Carlos Carmen Carol Caroline Catherine Cecilia
Celine Chang Charles Charlotte Chen Chiara Chidi Chinedu Chloe Chris Christian Christina Christine
Christopher Chukwu Cindy Claire Clara Claudia Colin Craig Cristina Cynthia Dalia Damian Dan Daniel
Daniela Danielle Daria Dario David Deborah Deepak Denis Dennis Derek Diana Diego Dimitri Dmitry
Dominic Donald Dong Dora Doris Douglas Duc Dylan Ebere Edward Elena Eleni Elif Elijah Elisa Elise
Elizabeth Ella Ellen Emeka Emilia Emily Emma Emmanuel Enrique Eric Erik Erin Esther Ethan Eva Evan
Fabian Fabio Farah Farid Fatima Fatma Felipe Felix Fernando Filip Fiona Francesca Francesco
Francis Francisco Frank Franz Fred Frederik Gabriel Gabriela Gareth Gary Gemma George Gerhard
Giorgia Giorgio Giovanni Giulia Giuseppe Gloria Grace Graham Greg Gregory Gustavo Hakan Hamid Hana
Hannah Hans Haruka Hassan Heather Hector Heidi Helen Helena Henrik Henry Hiroshi Hugo Hussein Ian
Ibrahim Ido Igor Imran Ines Ingrid Irina Isaac Isabel Isabella Ivan Jack Jacob Jacques Jake James
Jamal Jan Jane Janet Javier Jean Jeff Jeffrey Jennifer Jenna Jens Jeremy Jessica Ji Jin Joana
Joanna Joao Joe John Jonah Jonas Jonathan Jorge Jose Josef Joseph Joshua Juan Julia Julian Juliana
Julie Julien Jun Justin Kai Kamal Karen Karim Karin Karl Kate Katherine Kathryn Katya Kavya Keith
Kemal Ken Kenji Kenneth Kevin Khalid Kim Kiran Klaus Kofi Kwame Kwabena Lakshmi Lara Lars Laura
Lauren Laurent Layla Leah Lena Leo Leon Leonardo Liam Lin Linda Lisa Liu Lorenzo Louis Lucas Lucia
Luis Luiz Luka Lukas Luke Magnus Mahmoud Maja Malik Manuel Marc Marcel Marco Marcos Marcus Margaret
Maria Mariam Marina Mario Marisa Mark Marta Martin Mary Mateo Matteo Matthew Maya Mehmet Mei
Michael Michel Michelle Miguel Mikhail Mila Min Ming Mohamed Mohammad Mohammed Monica Muhammad Nadia
Naomi Natalia Natasha Nathan Neil Nicholas Nick Nicolas Nicole Nikita Nikolai Nina Noah Nora Nuno
Obinna Oksana Olaf Olav Oleg Oleksandr Olga Oliver Olivia Omar Oscar Pablo Paolo Patricia Patrick
Paul Paula Pavel Pedro Peter Petra Philip Pierre Pietro Priya Rachel Rafael Rahul Raj Rajesh Ramon
Rania Raquel Rashid Ravi Ray Rebecca Renee Ricardo Richard Rita Robert Roberto Rodrigo Roman Rosa
Ruth Ryan Sabine Sadiq Sakura Salma Sam Samantha Samir Samuel Sandra Sanjay Sara Sarah Sean Sebastian
Selin Sergei Sergey Sergio Shira Simon Simone Sofia Sophie Stefan Stefano Stephen Steven Sun Sunil
Susan Svetlana Sven Takeshi Tamar Tanya Tatiana Teresa Thabo Thomas Tigist Tim Timothy Tobias Tom
Tomasz Tyler Uche Valentina Vanessa Vera Victor Viktor Vikram Vincent Vivek Vladimir Volodymyr Wang
Wanjiru Wanjiku Wei Wen William Wojciech Xavier Xi Yan Yara Yasmin Yonas Yosef Youssef Yuki Yulia
Yuri Yusuf Zainab Zhang Zoe Zoran
""".split())
