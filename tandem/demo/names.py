"""Generated names and industry details for the demo's accounts and contacts, and the products
Polevod Instruments sells to each industry (data only)."""

from __future__ import annotations

import random

from tandem.crm.models import Industry

# --- generated names -------------------------------------------------------------------------

FIRST_NAMES = [
    "Anna",
    "Dmitry",
    "Maria",
    "Ivan",
    "Olga",
    "Pavel",
    "Elena",
    "Sergey",
    "Natalia",
    "Andrei",
    "Julia",
    "Thomas",
    "Laura",
    "Markus",
    "Sophie",
    "Lukas",
    "Clara",
    "Jan",
    "Eva",
    "Piotr",
    "Katarzyna",
    "Marco",
    "Giulia",
    "Pierre",
    "Camille",
    "Tatiana",
    "Viktor",
    "Irina",
    "Oleg",
    "Svetlana",
]
LAST_NAMES = [
    "Ivanova",
    "Petrov",
    "Smirnova",
    "Volkov",
    "Fedorova",
    "Morozov",
    "Schmidt",
    "Muller",
    "Fischer",
    "Wagner",
    "Kowalski",
    "Nowak",
    "Bianchi",
    "Russo",
    "Dubois",
    "Martin",
    "Popov",
    "Vasilieva",
    "Zaitsev",
    "Pavlova",
    "Hoffmann",
    "Becker",
    "Lang",
    "Jansen",
    "Bakker",
]
# Russian and Polish surnames agree with the person: Smirnov, Smirnova; Kowalski, Kowalska.
WOMEN = frozenset(
    {
        "Anna", "Maria", "Olga", "Elena", "Natalia", "Julia", "Laura", "Sophie", "Clara", "Eva",
        "Katarzyna", "Giulia", "Camille", "Tatiana", "Irina", "Svetlana",
    }
)  # fmt: skip
_MASCULINE = {"Ivanova": "Ivanov", "Smirnova": "Smirnov", "Fedorova": "Fedorov",
              "Vasilieva": "Vasiliev", "Pavlova": "Pavlov"}  # fmt: skip
_FEMININE = {"Petrov": "Petrova", "Volkov": "Volkova", "Morozov": "Morozova", "Popov": "Popova",
             "Zaitsev": "Zaitseva", "Kowalski": "Kowalska"}  # fmt: skip


def surname_for(first: str, last: str) -> str:
    """`last` in the form that agrees with `first` (a woman's or a man's)."""
    if first in WOMEN:
        return _FEMININE.get(last, last)
    return _MASCULINE.get(last, last)


ACCOUNT_NAMES = {
    Industry.AGRICULTURE: (
        [
            "Green",
            "Golden",
            "Black Earth",
            "River",
            "Sunny",
            "Steppe",
            "Valley",
            "Northern",
            "Volga",
            "Meadow",
        ],
        ["Farms", "Agro", "Harvest", "Fields", "Dairy", "Grain Co-op", "Agroholding"],
    ),
    Industry.MEDICAL: (
        [
            "City",
            "St. Luke",
            "Central",
            "Family",
            "Vita",
            "Medica",
            "Zdorovye",
            "Aesculap",
            "Nord",
            "Clear",
        ],
        ["Hospital", "Clinic", "Laboratory", "Pharmacy", "Medical Centre", "Diagnostics"],
    ),
    Industry.ELECTRONICS: (
        [
            "Volt",
            "Quantum",
            "Micron",
            "Signal",
            "Orbit",
            "Pixel",
            "Circuit",
            "Ampere",
            "Ion",
            "Spectrum",
        ],
        ["Systems", "Components", "Electronics", "Devices", "Integrators", "Distribution"],
    ),
    Industry.OTHER: (
        ["Atlas", "Baltic", "Ural", "Polar", "Crown", "Harbor", "Summit", "Unity"],
        ["Logistics", "Consulting", "Retail", "Foods", "Construction", "Textiles"],
    ),
}
TITLES = {
    Industry.AGRICULTURE: ["Farm manager", "Agronomist", "Owner", "Procurement lead"],
    Industry.MEDICAL: ["Chief physician", "Lab head", "Head nurse", "Purchasing manager"],
    Industry.ELECTRONICS: ["CTO", "Hardware engineer", "Buyer", "Product manager"],
    Industry.OTHER: ["CEO", "Operations manager", "Office manager", "Buyer"],
}


def slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-").replace("--", "-")


def industry_attributes(rng: random.Random, industry: str) -> dict[str, object]:
    if industry == Industry.AGRICULTURE:
        return {
            "farm_area_ha": float(rng.randrange(50, 20_000, 50)),
            "crops": rng.sample(["wheat", "barley", "sunflower", "maize", "soy", "rapeseed"], 2),
            "livestock": rng.sample(
                ["dairy cattle", "pigs", "poultry", "sheep"], rng.randint(0, 2)
            ),
        }
    if industry == Industry.MEDICAL:
        return {
            "clinic_type": rng.choice(["hospital", "clinic", "laboratory", "pharmacy", "practice"]),
            "specialties": rng.sample(
                ["cardiology", "radiology", "oncology", "paediatrics", "diagnostics"], 2
            ),
            "beds": rng.randrange(0, 600, 10),
        }
    if industry == Industry.ELECTRONICS:
        return {
            "business_type": rng.choice(["oem", "distributor", "integrator", "retailer"]),
            "product_lines": rng.sample(
                ["sensors", "PCBs", "power supplies", "IoT modules", "displays"], 2
            ),
        }
    return {}


# (sku, name, industry, list price in EUR): what each industry buys
PRODUCTS = [
    ("AG-SM200", "Soil moisture sensor SM-200", Industry.AGRICULTURE, "450"),
    ("AG-WS10", "Field weather station WS-10", Industry.AGRICULTURE, "3200"),
    ("AG-YMK", "Yield mapping kit", Industry.AGRICULTURE, "8500"),
    ("MD-LB5", "Laboratory balance LB-5", Industry.MEDICAL, "2900"),
    ("MD-STM", "Sterilisation monitor", Industry.MEDICAL, "6400"),
    ("MD-PPS", "Precision pipette set", Industry.MEDICAL, "1100"),
    ("EL-OPS", "Oscilloscope probe set", Industry.ELECTRONICS, "780"),
    ("EL-TC3", "Thermal camera TC-3", Industry.ELECTRONICS, "5600"),
    ("EL-CAL", "Calibration service, one year", Industry.ELECTRONICS, "1500"),
]
