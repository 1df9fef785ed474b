"""The word lists, campaigns and country mix the generator draws from (no Faker at runtime: it is a
dev-only dependency). The weights here are what make the data look like a real company's; the
package docstring (``leads.generate``) states the resulting shares."""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Sandra "
    "Mark Ashley Steven Emily Andrew Donna Joshua Michelle Kevin Carol Brian Amanda George Melissa Oliver "
    "Amelia Harry Isla Jack Ava Noah Mia Leo Freya Arthur Grace Oscar Chloe Finn Ruby Liam Sophie Ethan "
    "Hannah Lucas Emma Ben Laura Max Anna Felix Lena Jonas Lea Paul Marie Lukas Clara Elias Johanna "
    "Mathis Camille Manon Louis Chloé Théo Inès Raphaël Léa Jules Zoé Antoine Élodie Pablo Lucía "
    "Hugo Martina Alejandro Sofía Diego Valentina Javier Carmen José Ana Matteo Giulia Lorenzo Chiara "
    "Francesco Alessia Sven Astrid Lars Ingrid Erik Sigrid Søren Freja Mikkel Saga Aarav Priya Vihaan "
    "Ananya Arjun Diya Rohan Kavya Ishaan Aditi Wei Li Jun Mei Hiroshi Yuki Kenji Aiko Sipho Thandiwe "
    "Kwame Amara Chidi Ngozi Mateus Beatriz Rafael Larissa Tomasz Agnieszka Łukasz Zofia Piotr Katarzyna "
    "Niamh Cian Aoife Oisín Siobhán Seán Fatima Omar Layla Yusuf Noor Hamza"
)
LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Wilson "
    "Anderson Thomas Taylor Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker "
    "Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter Phillips "
    "Evans Turner Parker Collins Edwards Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Bailey "
    "Reed Kelly Howard Cox Ward Richardson Watson Brooks Wood James Bennett Gray Hughes Price Sanders "
    "Patel Shah Singh Kumar Sharma Gupta Mehta Iyer Reddy Nair Müller Schmidt Schneider Fischer Weber "
    "Meyer Wagner Becker Schulz Hoffmann Koch Richter Klein Wolf Schröder Neumann Dubois Durand Lefèvre "
    "Moreau Laurent Simon Michel Garnier Faure Rousseau Fernández González Sánchez Pérez Gómez Martín "
    "Jiménez Ruiz Díaz Álvarez Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco "
    "Jansen Bakker Visser Smit Andersson Johansson Karlsson Nilsson Eriksson "
    "Larsen Hansen Nielsen Jensen Pedersen Kowalski Nowak Wiśniewski Wójcik Silva Santos Oliveira Souza "
    "Costa Pereira Ferreira Tanaka Suzuki Takahashi Watanabe Sato Wang Zhang Chen Liu Yang Huang Nguyen "
    "Tran Kim Park Choi O'Brien O'Connor Byrne Ryan Walsh McCarthy Okafor Mensah Dlamini Nkosi Haddad "
    "Khan Rahman Ali Hussain Cohen Levi Novak Horvat Popescu Ionescu"
) + ("de Vries", "van den Berg", "da Silva", "Le Roux", "Mac Giolla")
COMPANY_BRANDS = _words(
    "Acme Northwind Contoso Globex Initech Umbrella Vandelay Stark Wayne Hooli Soylent Tyrell "
    "Cyberdyne Wonka Gringotts Oscorp Aperture Monarch Nakatomi Virtucon "
    "Bluepeak Brightline Clearwater Cobalt Copperleaf Crestview Deepfield Evergreen Fairway Firefly "
    "Foxglove Granite Greenway Harborview Highland Horizon Ironbridge Juniper Keystone Lakeside Lighthouse "
    "Lumen Maple Meridian Mosaic Nimbus Northstar Oakridge Orbit Pinnacle Polaris Quantum Redwood "
    "Riverbend Sapphire Silverline Skyline Solstice Summit Sunrise Tidewater Trident Vertex Westbrook "
    "Willow Zenith Arcadia Atlas Beacon Cedar Delta Ember Falcon Helix Kestrel Nova Onyx Prism Quartz"
) + ("Pied Piper", "Blue Sun", "Massive Dynamic", "Les Deux Rives", "Zürich Höhe")
COMPANY_SECTORS = _words(
    "Logistics Analytics Software Systems Solutions Labs Health Energy Foods Capital Partners Consulting "
    "Robotics Media Networks Pharma Retail Industries Ventures Security Cloud Biotech Insurance Motors "
    "Telecom Fintech Learning Design Manufacturing"
)
COMPANY_SUFFIXES = ("Ltd", "Limited", "PLC", "Inc", "Inc.", "LLC", "Corp.", "GmbH", "AG", "SA", "SAS", "BV", "AB", "")
# A suffix and what the same company may be called elsewhere (most normalise to the same key).
SUFFIX_VARIANTS = {
    "Ltd": ("Limited", "Ltd.", "LTD"),
    "Limited": ("Ltd", "Ltd."),
    "PLC": ("plc", "P.L.C."),
    "Inc": ("Inc.", "Incorporated", "INC"),
    "Inc.": ("Inc", "Incorporated"),
    "LLC": ("L.L.C.", "llc", ""),
    "Corp.": ("Corporation", "Corp"),
    "GmbH": ("GMBH", ""),
    "AG": ("", "A.G."),
    "SA": ("S.A.", ""),
    "SAS": ("S.A.S.", "SA"),
    "BV": ("B.V.", ""),
    "AB": ("", "Aktiebolag"),
    "": ("Ltd", "Inc", "Group"),
}
JOB_TITLES = (
    "CEO", "CTO", "CFO", "COO", "Founder", "Co-founder", "VP Sales", "VP Marketing", "VP Engineering",
    "Head of Growth", "Head of Sales", "Head of Marketing", "Head of Operations", "Head of IT",
    "Sales Director", "Marketing Director", "IT Director", "Procurement Manager", "Operations Manager",
    "Product Manager", "Engineering Manager", "Marketing Manager", "Sales Manager", "Account Executive",
    "Business Development Manager", "Data Scientist", "Software Engineer", "Solutions Architect",
    "Financial Controller", "HR Director", "Office Manager", "Customer Success Manager", "Consultant",
    "Analyst", "Purchasing Lead", "Digital Transformation Lead", "Chief Revenue Officer",
)  # fmt: skip
SKILLS = (
    "SaaS", "B2B sales", "Growth", "SEO", "Python", "Data analysis", "Negotiation", "Leadership",
    "Cloud", "Procurement", "Supply chain", "Fintech", "Salesforce", "Marketing automation", "Security",
)  # fmt: skip

# name, lead source, medium, search term: the biggest first. Leads are spread over them by
# ``CAMPAIGN_SKEW``: a few campaigns hold most leads, many small ones a few each.
CAMPAIGNS = (
    ("Scraped profiles", "Scraped profile", "", ""),
    ("LinkedIn outreach", "LinkedIn", "social", ""),
    ("Content: buyer's guide", "Website", "organic", "lead management guide"),
    ("Google Ads – brand", "Google Ads", "cpc", "crm software"),
    ("Cold outbound Q3", "Outbound", "email", ""),
    ("Spring webinar series", "Webinar", "email", ""),
    ("Partner referrals", "Partner", "referral", ""),
    ("Trade show: SaaStr", "Trade show", "event", ""),
    ("Customer referrals", "Referral", "referral", ""),
    ("Google Ads – competitors", "Google Ads", "cpc", "salesforce alternative"),
    ("Website demo requests", "Website", "organic", ""),
    ("Cold outbound Q4", "Outbound", "email", ""),
    ("Webinar: pipeline hygiene", "Webinar", "email", ""),
    ("Trade show: Web Summit", "Trade show", "event", ""),
    ("Newsletter sign-ups", "Website", "email", ""),
    ("LinkedIn ads – retargeting", "LinkedIn", "paid_social", ""),
    ("Partner: Northwind reseller", "Partner", "referral", ""),
    ("Webinar: forecasting 101", "Webinar", "email", ""),
    ("Trade show: Dreamforce", "Trade show", "event", ""),
    ("Content: ROI calculator", "Website", "organic", "crm roi"),
    ("Podcast sponsorship", "Podcast", "audio", ""),
    ("G2 reviews", "Review site", "referral", ""),
    ("Capterra listing", "Review site", "referral", ""),
    ("Meetup: London SaaS", "Event", "event", ""),
    ("Meetup: Berlin sales ops", "Event", "event", ""),
    ("Partner: Contoso integration", "Partner", "referral", ""),
    ("Direct mail pilot", "Direct mail", "offline", ""),
    ("Google Ads – generic", "Google Ads", "cpc", "lead management"),
    ("Webinar: AI for SDRs", "Webinar", "email", ""),
    ("Product Hunt launch", "Website", "referral", ""),
)
CAMPAIGN_SKEW = 1.3  # the n-th campaign (from 0) weighs 1 / (n + 1) ** CAMPAIGN_SKEW
BUDGETS = ("< 10k", "10k–50k", "50k–100k", "100k–250k", "> 250k")
TIMELINES = ("This month", "Next month", "This quarter", "Next quarter", "This year", "Next year", "No timeline")
PRODUCTS = ("CRM Starter", "CRM Professional", "CRM Enterprise", "Analytics add-on", "API access")
NEEDS = (
    "Replace spreadsheets for the sales team.",
    "Consolidate two CRMs after an acquisition.",
    "Better lead routing across territories.",
    "Reporting for the board on pipeline health.",
)
PERSONAL_DOMAINS = ("mail.example", "inbox.example", "post.example")
SKILL_PAIRS = [[a, b] for a in SKILLS for b in SKILLS if a != b]

# Who a job title speaks for, as an SDR records it: the first listed word found in the title
# decides; any other title is a user.
AUTHORITY_BY_TITLE_WORD = (
    ("Office", "gatekeeper"), ("Purchasing", "gatekeeper"), ("CEO", "decision_maker"), ("CTO", "decision_maker"),
    ("CFO", "decision_maker"), ("COO", "decision_maker"), ("Founder", "decision_maker"),
    ("Co-founder", "decision_maker"), ("Chief", "decision_maker"), ("VP", "decision_maker"),
    ("Director", "influencer"), ("Head", "influencer"), ("Manager", "influencer"), ("Lead", "influencer"),
    ("Controller", "influencer"),
)  # fmt: skip

# Short and familiar forms of the first names above, as people give them on another form.
NICKNAMES = {
    "James": ("Jim", "Jamie"), "Robert": ("Bob", "Rob", "Bobby"), "John": ("Jack", "Johnny"),
    "Michael": ("Mike", "Mick"), "David": ("Dave",), "William": ("Bill", "Will"), "Richard": ("Rick", "Dick"),
    "Joseph": ("Joe",), "Thomas": ("Tom", "Tommy"), "Charles": ("Charlie", "Chuck"), "Christopher": ("Chris",),
    "Daniel": ("Dan", "Danny"), "Matthew": ("Matt",), "Anthony": ("Tony",), "Steven": ("Steve",),
    "Andrew": ("Andy", "Drew"), "Joshua": ("Josh",), "Kevin": ("Kev",), "Elizabeth": ("Liz", "Beth", "Lizzie"),
    "Patricia": ("Pat", "Patty"), "Jennifer": ("Jen", "Jenny"), "Susan": ("Sue",), "Jessica": ("Jess",),
    "Barbara": ("Barb",), "Sandra": ("Sandy",), "Ashley": ("Ash",), "Melissa": ("Mel",), "Amanda": ("Mandy",),
    "Michelle": ("Shelly",), "Oliver": ("Ollie",), "Sophie": ("Soph",), "Emily": ("Em",), "Lucas": ("Luke",),
    "Elias": ("Eli",), "Johanna": ("Hanna",), "Alejandro": ("Alex",), "Javier": ("Javi",), "José": ("Pepe",),
    "Lorenzo": ("Enzo",), "Francesco": ("Franco",), "Raphaël": ("Raph",), "Tomasz": ("Tomek",),
    "Katarzyna": ("Kasia",), "Agnieszka": ("Aga",), "Zofia": ("Zosia",), "Rafael": ("Rafa",),
    "Valentina": ("Vale",), "Alessia": ("Ale",), "Christian": ("Chris",), "Benjamin": ("Ben",),
}  # fmt: skip

# Where leads live: the company's home country, a handful of big markets, a middle tier, and a long
# tail of countries with a few dozen leads each in a million.
HOME_COUNTRY_SHARE = 0.65
BIG_COUNTRIES = ("GB", "US", "DE", "FR", "IN", "CA")  # the first five that are not home: 8, 6, 4, 3, 2 %
BIG_SHARES = (0.08, 0.06, 0.04, 0.03, 0.02)
MID_COUNTRIES = ("AU", "NL", "ES", "IE", "SE", "IT", "CH", "SG", "AT", "BE", "PL", "PT", "NO", "ZA", "MX", "BR", "JP")
TAIL_COUNTRIES = {
    "KE": "Kenya", "NG": "Nigeria", "GH": "Ghana", "EG": "Egypt", "MA": "Morocco", "TN": "Tunisia",
    "AR": "Argentina", "CL": "Chile", "CO": "Colombia", "PE": "Peru", "UY": "Uruguay", "NZ": "New Zealand",
    "PH": "Philippines", "MY": "Malaysia", "TH": "Thailand", "VN": "Vietnam", "ID": "Indonesia",
    "KR": "South Korea", "TW": "Taiwan", "HK": "Hong Kong", "IL": "Israel", "AE": "United Arab Emirates",
    "SA": "Saudi Arabia", "QA": "Qatar", "TR": "Türkiye", "GR": "Greece", "CY": "Cyprus", "HU": "Hungary",
    "CZ": "Czechia", "SK": "Slovakia", "RO": "Romania", "BG": "Bulgaria", "HR": "Croatia", "SI": "Slovenia",
    "RS": "Serbia", "EE": "Estonia", "LV": "Latvia", "LT": "Lithuania", "IS": "Iceland", "LU": "Luxembourg",
}  # fmt: skip
TAIL_SHARE = 0.002  # all tail countries together: 50 leads each in a million
