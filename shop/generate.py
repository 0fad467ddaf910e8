"""Seeded, reproducible demo shop: catalog, customers, orders and an interaction log.

``python -m shop generate [--out data] [--seed 7] [--today YYYY-MM-DD] [--database-url URL]``
writes ``<out>/catalog.jsonl`` (360 products, one JSON object per line, fixed key order; read by
search and the recommender), ``<out>/shop_meta.json`` (seed, reference date, row counts) and
(re)creates every table of the shop DB (``--database-url``, else ``SHOP_DATABASE_URL``, else
``sqlite:///<out>/shop.db``). Everything is invented. The same seed and ``--today`` give a
byte-identical catalog and identical DB rows; the catalog depends on the seed only.

Fixture records, present whatever the seed (T = ``--today``, default the current UTC date;
all timestamps are naive UTC and lie before T 00:00):

    C0000 Ana Lopez  ana.lopez@example.com
      SO10001 placed      placed T-1 at 19:12, awaiting payment
      SO10002 paid        placed T-1 09:40, paid ten minutes later
      SO10003 shipped     shipped T-2 with UPS, tracking 1Z999AA10123456784, due T+2
      SO10004 delivered   delivered T-5 (inside the 30-day return window)
      SO10005 delivered   delivered T-60 (outside it)
      SO10006 cancelled   placed T-20, cancelled two hours later
      SO10007 returned    delivered T-40, return R-FIX10007 refunded
    C0001 Ben Okafor ben.okafor@example.com
      SO10008 delivered   delivered T-10

The interaction log (~40k rows: view, cart, purchase, rating) has learnable structure: each
customer prefers 1-3 categories, a price band, a few brands and tags; browsing comes in sessions
around one subcategory and its complements; item popularity is long-tailed (Zipf, boosted by
rating); some items trend in the last 30 days; order items are purchases at ``placed_at``, with
views and carts just before and some ratings after delivery. Complements
(``SUBCATEGORIES[...].goes_with``, e.g. trail running shoes -> running socks, hydration packs)
drive multi-item orders.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "data"

CATEGORIES = ("footwear", "clothing", "electronics", "home", "beauty", "sports")
BRANDS = {
    "footwear": ("Stridewell", "TrailForge", "Cloudstep", "UrbanSole"),
    "clothing": ("Northwind", "Loomly", "Basecamp", "Threadline"),
    "electronics": ("Voltix", "Auralis", "Pixelhaus", "Nimbus"),
    "home": ("Hearthly", "Casanova", "Brightnest", "Oakline"),
    "beauty": ("Glowra", "PureLeaf", "Velvetine", "Dermaluxe"),
    "sports": ("Peakform", "AquaDash", "IronPulse", "Rallypro"),
}
COLORS = ("black", "white", "red", "blue", "green", "grey", "navy", "brown", "pink", "beige",
          "yellow", "purple", "orange", "silver")
SHOE_SIZES = tuple(str(s) for s in range(36, 47))
CLOTHING_SIZES = ("XS", "S", "M", "L", "XL", "XXL")
CARRIERS = ("UPS", "FedEx", "USPS", "DHL")
N_CUSTOMERS = 400
N_ORDERS = 1200
TARGET_INTERACTIONS = 40_000
TRENDING_DAYS = 30


# ---- catalog vocabulary --------------------------------------------------------------------
# Phrases carry their tags after "|" (comma-separated) and features an optional title word
# after a second "|": "a waterproof membrane|waterproof|Waterproof".

@dataclass(frozen=True)
class Sub:
    name: str
    category: str
    count: int
    price: tuple[float, float]
    nouns: tuple[str, ...]
    colors: tuple[str, ...]
    uses: tuple[str, ...]
    materials: tuple[str, ...]
    features: tuple[str, ...]
    tags: tuple[str, ...]
    goes_with: tuple[str, ...]
    specialists: tuple[str, ...]


def _subs(category: str, *rows: tuple[Any, ...]) -> list[Sub]:
    return [Sub(r[0], category, *r[1:]) for r in rows]


SUBCATEGORIES: list[Sub] = [
    *_subs(
        "footwear",
        ("running shoes", 12, (60, 180), ("Running Shoes",),
         ("black", "white", "blue", "red", "grey", "navy", "pink", "orange", "yellow"),
         ("for road running and daily training|road running", "for marathon training and long runs|marathon",
          "for easy runs and gym sessions|gym", "for tempo runs and race day|racing"),
         ("an engineered mesh upper", "a recycled knit upper|recycled,vegan", "a breathable jacquard mesh upper|breathable"),
         ("responsive foam cushioning|cushioned|Cushioned", "a lightweight build under 250 g|lightweight|Lightweight",
          "a durable rubber outsole", "reflective details for running at night|reflective",
          "a carbon-infused plate for a snappy toe-off|carbon plate|Carbon",
          "extra heel support for overpronation|stability|Stability", "a roomy toe box|wide fit|Wide"),
         ("running",), ("running socks", "running shorts", "smartwatch", "water bottles"), ("Cloudstep", "Stridewell")),
        ("trail running shoes", 10, (90, 190), ("Trail Running Shoes", "Trail Shoes"),
         ("black", "grey", "green", "orange", "blue", "brown"),
         ("for trail running on muddy, rocky paths|trail running", "for mountain ultramarathons|trail running,ultra",
          "for fast hikes and technical trails|hiking"),
         ("a ripstop mesh upper", "a recycled ripstop upper|recycled,vegan", "an abrasion-resistant synthetic upper"),
         ("a waterproof membrane that keeps feet dry in puddles and rain|waterproof|Waterproof",
          "deep 5 mm lugs for grip on mud and loose rock|grip", "a rock plate that protects against sharp stones|protective",
          "a gusseted tongue that keeps out grit", "a lightweight build|lightweight|Lightweight", "quick-pull laces"),
         ("trail running", "outdoor"), ("running socks", "hydration packs", "rain jackets"), ("TrailForge",)),
        ("hiking boots", 9, (110, 240), ("Hiking Boots", "Trekking Boots"),
         ("brown", "black", "grey", "green", "beige"),
         ("for day hikes and multi-day treks|hiking", "for backpacking on rough terrain|backpacking",
          "for winter walks and snowy trails|winter"),
         ("full-grain leather uppers|leather", "suede and nylon uppers", "synthetic uppers with recycled nylon|vegan,recycled"),
         ("a waterproof, breathable membrane|waterproof|Waterproof", "a high ankle collar for support|ankle support",
          "an insulated lining that keeps feet warm down to -20 °C|insulated|Insulated",
          "a grippy lugged outsole for wet and loose ground|grip", "a cushioned midsole for long days on the trail|cushioned"),
         ("hiking", "outdoor"), ("running socks", "hydration packs", "rain jackets"), ("TrailForge", "Stridewell")),
        ("sneakers", 11, (50, 140), ("Sneakers", "Low-Top Sneakers"),
         ("white", "black", "grey", "navy", "beige", "red", "green", "pink"),
         ("for everyday wear around town|casual", "for weekends and travel|travel",
          "for casual Fridays at the office|office"),
         ("soft leather uppers|leather", "organic cotton canvas|organic,vegan",
          "vegan leather made from plant-based materials|vegan", "suede uppers"),
         ("a cushioned insole|cushioned", "a classic vulcanised rubber sole", "a padded collar",
          "slip-on elastic laces|slip-on|Slip-On", "a minimalist low-profile design|minimalist|Minimalist"),
         ("casual", "everyday"), ("t-shirts", "jeans"), ("UrbanSole",)),
        ("sandals", 8, (25, 90), ("Sandals", "Slides"),
         ("black", "brown", "beige", "white", "navy"),
         ("for the beach and hot summer days|beach,summer", "for walking around town in summer|summer",
          "for travel and pool days|travel"),
         ("soft leather straps|leather", "quick-drying recycled webbing straps|recycled,vegan", "a cork and suede footbed"),
         ("a contoured footbed with arch support|arch support", "adjustable straps|adjustable",
          "a water-friendly design that dries fast|water-friendly", "a grippy rubber sole"),
         ("summer",), ("sunscreen",), ("UrbanSole", "Stridewell")),
        ("dress shoes", 6, (80, 220), ("Oxford Shoes", "Derby Shoes", "Loafers"),
         ("black", "brown", "navy"),
         ("for the office and formal occasions|office,formal", "for weddings and evenings out|formal,wedding",
          "for business travel|office"),
         ("polished full-grain leather|leather", "soft calfskin suede|leather", "vegan leather|vegan"),
         ("a welted sole that can be resoled|resoleable", "a cushioned leather insole|cushioned",
          "a slim, elegant last", "a rubber heel insert for grip"),
         ("formal", "office"), ("sweaters",), ("Stridewell", "UrbanSole")),
        ("slippers", 4, (20, 60), ("Slippers",),
         ("grey", "beige", "navy", "pink", "brown"),
         ("for cozy evenings at home|home,cozy", "for lazy weekend mornings|home"),
         ("a wool felt upper|wool", "a faux-fur lining|vegan", "a soft fleece upper"),
         ("memory foam cushioning|memory foam", "a non-slip sole for indoor and outdoor use|non-slip",
          "machine-washable materials|machine washable"),
         ("home", "gift"), ("throw blankets",), ("Cloudstep",)),
    ),
    *_subs(
        "clothing",
        ("t-shirts", 10, (15, 45), ("T-Shirt", "Tee"),
         ("white", "black", "grey", "navy", "red", "green", "blue", "yellow", "pink"),
         ("for everyday wear|everyday", "for the gym and warm-weather runs|gym", "for layering under a jacket|layering"),
         ("100% organic cotton|organic,vegan", "a cotton and recycled polyester blend|recycled", "soft merino wool|merino"),
         ("a relaxed fit|relaxed fit|Relaxed", "a slim fit|slim fit|Slim", "moisture-wicking fabric|moisture-wicking",
          "a pre-shrunk fabric that keeps its shape", "flat seams that don't rub"),
         ("basics",), ("jeans", "sneakers"), ("Threadline", "Loomly")),
        ("hoodies", 8, (35, 90), ("Hoodie", "Zip Hoodie"),
         ("grey", "black", "navy", "green", "beige", "purple"),
         ("for chilly evenings and weekends|casual", "for warm-ups before training|training", "for lounging at home|home"),
         ("brushed cotton fleece", "organic cotton French terry|organic,vegan", "a recycled polyester blend|recycled"),
         ("a kangaroo pocket", "a lined hood with drawcords", "ribbed cuffs and hem", "an oversized fit|oversized|Oversized"),
         ("casual",), ("t-shirts", "leggings"), ("Basecamp", "Threadline")),
        ("rain jackets", 8, (70, 220), ("Rain Jacket", "Shell Jacket"),
         ("yellow", "navy", "black", "green", "red", "blue", "orange"),
         ("for hiking in wet weather|hiking", "for the daily commute in the rain|commute",
          "for trail running in showers|trail running"),
         ("a 2.5-layer recycled nylon shell|recycled", "a lightweight ripstop shell", "a 3-layer waterproof-breathable fabric"),
         ("fully taped seams that keep the rain out|waterproof|Waterproof",
          "a packable design that stuffs into its own pocket|packable|Packable",
          "an adjustable, helmet-compatible hood", "pit zips for ventilation|breathable", "reflective trims|reflective"),
         ("waterproof", "outdoor"), ("hiking boots", "hydration packs"), ("Northwind", "Basecamp")),
        ("down jackets", 6, (120, 320), ("Down Jacket", "Puffer Jacket"),
         ("black", "navy", "red", "green", "beige", "silver"),
         ("for cold winter days in the city|winter", "for alpine trips and ski holidays|winter,ski",
          "for camping on cold nights|camping"),
         ("responsibly sourced 700-fill goose down|down", "recycled synthetic insulation|recycled,vegan",
          "a water-repellent recycled nylon shell|recycled"),
         ("a warm yet lightweight baffled design|lightweight|Lightweight", "an insulated hood|hooded|Hooded",
          "a water-repellent finish for light snow|water-resistant", "two zipped hand-warmer pockets",
          "a packable stuff sack|packable"),
         ("winter", "warm"), ("sweaters",), ("Northwind",)),
        ("jeans", 8, (45, 130), ("Jeans",),
         ("blue", "navy", "black", "grey"),
         ("for everyday wear|everyday", "for the office on casual days|office", "for weekends out|casual"),
         ("stretch denim with 2% elastane|stretch", "rigid selvedge denim", "organic cotton denim|organic,vegan"),
         ("a slim, tapered leg|slim fit|Slim", "a relaxed straight leg|relaxed fit|Relaxed",
          "a high-rise waist|high-rise|High-Rise", "five-pocket styling", "reinforced stitching"),
         ("denim",), ("t-shirts", "sneakers"), ("Threadline",)),
        ("leggings", 8, (30, 90), ("Leggings", "Tights"),
         ("black", "navy", "grey", "purple", "green", "pink"),
         ("for yoga and pilates|yoga", "for running and HIIT workouts|running", "for everyday comfort|everyday"),
         ("a buttery-soft nylon and spandex blend", "recycled polyester with spandex|recycled",
          "a brushed, fleece-lined fabric for cold days|winter"),
         ("a high waistband that stays put|high-rise|High-Waisted", "side pockets that fit a phone|pockets",
          "squat-proof, opaque fabric", "moisture-wicking, quick-drying fabric|moisture-wicking", "a hidden key pocket"),
         ("activewear",), ("yoga mats", "running shorts"), ("Basecamp", "Loomly")),
        ("running shorts", 6, (25, 65), ("Running Shorts",),
         ("black", "navy", "blue", "red", "grey", "green"),
         ("for road running and races|running", "for summer training|summer", "for trail running|trail running"),
         ("lightweight recycled polyester|recycled", "a stretchy woven fabric"),
         ("a built-in liner", "a zipped back pocket", "reflective details|reflective",
          "laser-cut ventilation|breathable", "a 5-inch inseam"),
         ("running", "activewear"), ("running socks", "running shoes"), ("Basecamp",)),
        ("sweaters", 6, (45, 140), ("Sweater", "Jumper"),
         ("beige", "grey", "navy", "green", "brown", "red"),
         ("for the office and smart-casual days|office", "for cozy weekends|cozy", "for layering in autumn|layering"),
         ("fine merino wool|merino,wool", "a soft cashmere blend|cashmere", "organic cotton knit|organic,vegan",
          "chunky lambswool|wool"),
         ("a classic crew neck", "a cable-knit pattern|cable knit|Cable-Knit", "a relaxed fit|relaxed fit",
          "ribbed cuffs and hem", "a roll neck|roll neck|Roll-Neck"),
         ("knitwear", "gift"), ("jeans",), ("Loomly",)),
    ),
    *_subs(
        "electronics",
        ("headphones", 10, (50, 350), ("Headphones", "Over-Ear Headphones"),
         ("black", "white", "silver", "navy", "beige"),
         ("for travel and long flights|travel", "for working from home and video calls|work from home",
          "for music lovers at home|music", "for the daily commute|commute"),
         ("soft protein-leather ear cushions", "a lightweight aluminium headband", "recycled plastics|recycled"),
         ("active noise cancelling|noise cancelling|Noise-Cancelling", "up to 40 hours of battery life|long battery",
          "a foldable design with a travel case|foldable", "multipoint Bluetooth 5.3 pairing|bluetooth,wireless|Wireless",
          "a built-in microphone for calls|microphone", "fast charging: 10 minutes gives 5 hours"),
         ("audio",), ("phone charger", "bluetooth speaker"), ("Auralis", "Pixelhaus")),
        ("earbuds", 10, (30, 250), ("Earbuds", "Wireless Earbuds"),
         ("black", "white", "navy", "silver", "green"),
         ("for running and gym workouts|workout", "for the daily commute|commute", "for calls on the go|calls"),
         ("a compact charging case", "soft silicone ear tips in three sizes", "recycled plastics|recycled"),
         ("active noise cancelling|noise cancelling|Noise-Cancelling",
          "IPX5 sweat and water resistance|water-resistant,sweatproof|Sport",
          "secure ear hooks that stay put while running|secure fit", "wireless charging|wireless charging",
          "8 hours of playback plus 24 in the case|long battery", "a transparency mode"),
         ("audio", "wireless"), ("phone charger", "power bank"), ("Auralis", "Nimbus")),
        ("smartwatch", 8, (90, 400), ("Smartwatch", "GPS Watch"),
         ("black", "silver", "white", "pink", "navy", "green"),
         ("for runners and cyclists|running,cycling", "for everyday fitness tracking|fitness tracking",
          "for swimming and triathlon|swimming"),
         ("an aluminium case with a silicone band", "a stainless steel case with a leather strap|leather",
          "a lightweight polymer case"),
         ("built-in GPS|gps|GPS", "heart-rate and sleep tracking|health tracking", "water resistance to 50 m|waterproof",
          "up to 10 days of battery life|long battery", "contactless payments", "an always-on AMOLED display"),
         ("wearable",), ("phone charger", "running shoes"), ("Nimbus",)),
        ("bluetooth speaker", 9, (30, 250), ("Bluetooth Speaker", "Portable Speaker"),
         ("black", "blue", "red", "grey", "green", "orange"),
         ("for parties and the beach|party,beach", "for camping trips|outdoor", "for the kitchen and home|home"),
         ("a rugged rubberised body", "a fabric-wrapped body made from recycled yarn|recycled", "an aluminium grille"),
         ("IP67 dust and water protection|waterproof|Waterproof", "360-degree sound",
          "up to 20 hours of playtime|long battery", "stereo pairing with a second speaker",
          "a built-in power bank to charge your phone", "deep, punchy bass"),
         ("audio", "portable"), ("power bank",), ("Auralis", "Pixelhaus")),
        ("phone charger", 9, (15, 70), ("Phone Charger", "Charging Stand", "USB-C Charger"),
         ("white", "black", "grey"),
         ("for your desk or bedside table|home", "for travel|travel", "for charging several devices at once|multi-device"),
         ("a compact GaN chipset", "a braided nylon cable", "a fire-resistant polycarbonate shell"),
         ("65 W USB-C fast charging|fast charging|Fast", "two USB-C ports and one USB-A port",
          "Qi wireless charging|wireless charging|Wireless", "foldable plug prongs|travel",
          "overheat and surge protection"),
         ("charging",), ("power bank",), ("Voltix",)),
        ("power bank", 7, (25, 90), ("Power Bank",),
         ("black", "white", "grey", "blue"),
         ("for travel and long days out|travel", "for camping and festivals|outdoor",
          "for keeping your phone charged on the commute|commute"),
         ("an aluminium shell", "a slim, pocketable body"),
         ("20,000 mAh capacity|high capacity", "45 W USB-C power delivery|fast charging|Fast",
          "a built-in display showing the charge left", "pass-through charging", "an airline-safe capacity|travel"),
         ("charging", "portable"), ("phone charger",), ("Voltix",)),
        ("wireless keyboard", 7, (40, 150), ("Wireless Keyboard", "Keyboard"),
         ("black", "white", "grey", "silver"),
         ("for the home office|work from home,office", "for laptops and tablets|travel",
          "for coding and writing all day|productivity"),
         ("an aluminium top plate", "recycled plastic keycaps|recycled"),
         ("quiet low-profile keys|quiet", "backlit keys|backlit|Backlit", "multi-device Bluetooth switching|bluetooth",
          "a rechargeable battery that lasts months|long battery", "tactile mechanical switches|mechanical|Mechanical"),
         ("office",), ("desk lamps",), ("Pixelhaus",)),
    ),
    *_subs(
        "home",
        ("coffee makers", 7, (40, 260), ("Coffee Maker", "Espresso Machine", "Pour-Over Brewer"),
         ("black", "silver", "white", "red"),
         ("for your morning coffee|coffee", "for small kitchens and apartments|compact",
          "for coffee lovers who like it strong|coffee"),
         ("a stainless steel body", "a borosilicate glass carafe", "BPA-free plastics"),
         ("a programmable timer|programmable", "a built-in burr grinder|grinder",
          "a milk frother for lattes and cappuccinos|milk frother", "a keep-warm plate",
          "a compact one-cup design|compact|Compact"),
         ("kitchen",), ("ceramic mugs",), ("Casanova",)),
        ("ceramic mugs", 8, (12, 45), ("Mug", "Mug Set"),
         ("white", "blue", "green", "grey", "beige", "pink", "yellow"),
         ("for coffee and tea at home|coffee,tea", "for the office desk|office", "as a thoughtful gift|gift"),
         ("hand-glazed stoneware|handmade", "fine porcelain", "speckled ceramic"),
         ("a set of four|set", "a generous 400 ml size", "dishwasher- and microwave-safe glaze|dishwasher safe",
          "a comfortable wide handle"),
         ("kitchen", "gift"), ("coffee makers", "scented candles"), ("Hearthly", "Oakline")),
        ("scented candles", 8, (15, 55), ("Scented Candle", "Candle"),
         ("white", "beige", "pink", "green", "grey", "yellow"),
         ("for relaxing evenings|relaxation", "for the bathroom and spa nights|spa", "as a housewarming gift|gift"),
         ("natural soy wax|vegan", "a coconut and rapeseed wax blend|vegan", "a reusable glass jar"),
         ("notes of cedarwood and vanilla", "a lavender and chamomile scent|lavender", "a cotton wick for a clean burn",
          "about 45 hours of burn time", "a fresh fig and sea salt scent"),
         ("home fragrance", "gift"), ("throw blankets",), ("Hearthly", "Brightnest")),
        ("throw blankets", 8, (30, 120), ("Throw Blanket", "Throw"),
         ("beige", "grey", "navy", "green", "pink", "brown", "white"),
         ("for cozy nights on the sofa|cozy", "for the bedroom|bedroom", "as a gift for the home|gift"),
         ("chunky knitted cotton|organic", "soft merino wool|wool", "recycled fleece|recycled,vegan", "washed linen|linen"),
         ("a generous 130 x 170 cm size", "tasselled edges", "machine-washable fabric|machine washable",
          "a reversible two-tone design"),
         ("cozy",), ("scented candles", "bedding"), ("Hearthly", "Oakline")),
        ("desk lamps", 8, (30, 160), ("Desk Lamp", "LED Desk Lamp"),
         ("black", "white", "silver", "grey", "green"),
         ("for the home office|work from home", "for reading in bed|reading", "for students and late-night study|study"),
         ("a powder-coated steel arm", "an oak wood base|wood", "an aluminium body"),
         ("dimmable LED light with three colour temperatures|dimmable|Dimmable", "a built-in USB charging port",
          "an adjustable, swivelling arm|adjustable", "an energy-efficient LED|energy efficient", "touch controls"),
         ("lighting",), ("wireless keyboard",), ("Brightnest",)),
        ("cookware", 8, (35, 250), ("Frying Pan", "Saucepan", "Cookware Set", "Wok"),
         ("black", "silver", "red", "grey"),
         ("for everyday cooking|cooking", "for searing and stir-fries|cooking", "for induction hobs|induction"),
         ("tri-ply stainless steel", "cast iron|cast iron",
          "hard-anodised aluminium with a ceramic non-stick coating|non-stick"),
         ("a PFAS-free non-stick coating|non-stick,pfas-free", "oven-safe construction up to 250 °C|oven safe",
          "compatibility with all hobs including induction|induction", "stay-cool handles", "a matching glass lid"),
         ("kitchen",), ("kitchen knives",), ("Casanova",)),
        ("bedding", 7, (45, 180), ("Duvet Cover Set", "Sheet Set", "Pillowcase Pair"),
         ("white", "grey", "beige", "navy", "green", "pink"),
         ("for a cooler night's sleep|sleep", "for guest rooms|bedroom", "for hot summer nights|summer"),
         ("long-staple cotton percale|cotton", "stonewashed French linen|linen", "organic cotton sateen|organic",
          "breathable bamboo lyocell|vegan"),
         ("a hidden button closure", "deep-pocket fitted sheets", "pre-washed softness",
          "dyes tested for harmful substances"),
         ("bedroom",), ("throw blankets",), ("Oakline", "Hearthly")),
        ("kitchen knives", 6, (30, 220), ("Chef's Knife", "Knife Set", "Santoku Knife"),
         ("black", "silver", "brown"),
         ("for home cooks|cooking", "for slicing, dicing and chopping|cooking", "as a gift for keen cooks|gift"),
         ("high-carbon stainless steel", "67-layer Damascus steel", "an olive wood handle|wood"),
         ("a razor-sharp 15-degree edge|sharp", "a full tang for balance", "a magnetic knife block|set",
          "a protective blade guard"),
         ("kitchen",), ("cookware",), ("Casanova",)),
    ),
    *_subs(
        "beauty",
        ("moisturizer", 9, (12, 70), ("Moisturizer", "Face Cream", "Day Cream"),
         ("white", "beige", "pink"),
         ("for dry and sensitive skin|dry skin,sensitive skin", "for oily and combination skin|oily skin",
          "for daily use under make-up|daily"),
         ("hyaluronic acid and ceramides|hydrating", "shea butter and squalane", "aloe vera and green tea|natural"),
         ("a fragrance-free formula|fragrance-free", "a lightweight gel texture|lightweight|Lightweight",
          "SPF 30 protection|spf", "a non-comedogenic formula", "a vegan, cruelty-free formula|vegan,cruelty-free"),
         ("skincare",), ("face serum", "sunscreen", "cleanser"), ("Glowra", "Dermaluxe")),
        ("face serum", 8, (18, 90), ("Face Serum", "Serum"),
         ("white", "beige", "yellow"),
         ("for dull, tired skin|brightening", "for fine lines|anti-aging", "for uneven skin tone|brightening"),
         ("15% vitamin C|vitamin c", "encapsulated retinol|retinol", "niacinamide and zinc", "hyaluronic acid|hydrating"),
         ("a fast-absorbing formula", "a dropper bottle for precise dosing", "a fragrance-free formula|fragrance-free",
          "a vegan, cruelty-free formula|vegan,cruelty-free"),
         ("skincare",), ("moisturizer",), ("Glowra", "Dermaluxe")),
        ("sunscreen", 8, (10, 40), ("Sunscreen SPF 50", "Sun Lotion"),
         ("white", "beige", "yellow", "orange"),
         ("for beach days and swimming|beach", "for daily city wear|daily", "for outdoor sports|outdoor"),
         ("mineral zinc oxide filters|mineral", "lightweight chemical filters", "soothing aloe vera|natural"),
         ("SPF 50 broad-spectrum protection|spf 50", "water resistance for 80 minutes|water-resistant",
          "an invisible finish with no white cast", "a reef-friendly formula|reef-friendly", "a non-greasy finish"),
         ("skincare", "sun care"), ("moisturizer",), ("Dermaluxe", "PureLeaf")),
        ("cleanser", 7, (8, 35), ("Cleanser", "Face Wash"),
         ("white", "green", "beige"),
         ("for a gentle morning and evening cleanse|daily", "for removing make-up|make-up remover",
          "for acne-prone skin|acne-prone"),
         ("a gentle cream base", "a foaming gel with salicylic acid", "micellar water and cucumber extract|natural"),
         ("a soap-free formula", "a fragrance-free formula|fragrance-free", "a pH-balanced formula",
          "a vegan, cruelty-free formula|vegan,cruelty-free"),
         ("skincare",), ("moisturizer",), ("PureLeaf", "Glowra")),
        ("shampoo", 8, (8, 35), ("Shampoo",),
         ("white", "green", "purple", "yellow"),
         ("for curly and frizzy hair|curly hair", "for colour-treated hair|color-treated", "for fine, flat hair|volume",
          "for everyday washing|daily"),
         ("argan oil|argan", "rosemary and mint|natural", "rice protein"),
         ("a sulfate-free formula|sulfate-free", "a silicone-free formula|silicone-free",
          "a refillable aluminium bottle|refillable", "a vegan, cruelty-free formula|vegan,cruelty-free"),
         ("haircare",), ("body lotion",), ("PureLeaf",)),
        ("lipstick", 7, (10, 40), ("Lipstick",),
         ("red", "pink", "purple", "brown", "beige", "orange"),
         ("for everyday wear|everyday", "for evenings and special occasions|party", "as a gift|gift"),
         ("nourishing jojoba oil", "shea butter and vitamin E", "a plant-based wax blend|vegan"),
         ("a long-lasting matte finish|matte|Matte", "a satin, hydrating finish|satin|Satin",
          "a transfer-proof formula|long-lasting", "a refillable case|refillable"),
         ("makeup",), ("perfume",), ("Velvetine",)),
        ("perfume", 6, (35, 140), ("Eau de Parfum",),
         ("pink", "purple", "beige", "yellow"),
         ("for everyday wear|everyday", "for evenings out|evening", "as a gift|gift"),
         ("notes of bergamot, jasmine and sandalwood", "notes of fig, vetiver and cedar",
          "notes of pink pepper, rose and amber", "notes of sea salt, citrus and musk"),
         ("a 50 ml spray bottle", "a long-lasting trail|long-lasting", "a travel-size atomiser|travel",
          "a refillable glass bottle|refillable"),
         ("fragrance", "gift"), ("body lotion", "lipstick"), ("Velvetine",)),
        ("body lotion", 7, (10, 40), ("Body Lotion", "Body Butter"),
         ("white", "beige", "pink", "green"),
         ("for very dry skin|dry skin", "for after-sun care|after sun", "for everyday hydration|daily"),
         ("shea butter and oat|natural", "cocoa butter", "aloe vera and cucumber|natural"),
         ("a fast-absorbing, non-greasy texture", "a fragrance-free formula|fragrance-free",
          "48-hour hydration|hydrating", "a vegan, cruelty-free formula|vegan,cruelty-free"),
         ("bodycare",), ("shampoo",), ("PureLeaf", "Glowra")),
    ),
    *_subs(
        "sports",
        ("yoga mats", 9, (25, 110), ("Yoga Mat",),
         ("purple", "green", "blue", "pink", "black", "grey"),
         ("for yoga and pilates|yoga,pilates", "for hot yoga|hot yoga", "for home workouts and stretching|home workout"),
         ("natural tree rubber|natural", "non-toxic TPE|vegan", "cork and natural rubber|cork,vegan"),
         ("a non-slip surface, even when sweaty|non-slip|Non-Slip", "extra 6 mm cushioning for the knees|cushioned|Thick",
          "alignment lines", "a carry strap", "a lightweight, travel-friendly build|travel|Travel"),
         ("yoga", "fitness"), ("resistance bands", "leggings", "water bottles"), ("IronPulse", "Peakform")),
        ("running socks", 8, (10, 30), ("Running Socks",),
         ("white", "black", "grey", "blue", "pink"),
         ("for road and trail running|running,trail running", "for long hikes|hiking", "for marathon training|marathon"),
         ("a merino wool blend|merino", "recycled nylon|recycled", "moisture-wicking polyester|moisture-wicking"),
         ("anti-blister seamless toes|anti-blister", "cushioned heels and forefoot|cushioned", "arch compression",
          "a pack of three pairs|set"),
         ("running",), ("running shoes", "trail running shoes"), ("Peakform",)),
        ("hydration packs", 7, (45, 150), ("Hydration Pack", "Running Vest"),
         ("black", "blue", "orange", "green", "red"),
         ("for trail running and ultramarathons|trail running", "for mountain biking|cycling", "for day hikes|hiking"),
         ("lightweight ripstop nylon", "a breathable mesh back panel|breathable", "recycled polyester|recycled"),
         ("a 1.5-litre reservoir with a bite valve", "two soft flasks in the chest pockets",
          "a bounce-free vest fit", "reflective details|reflective", "a whistle and rain cover|safety"),
         ("trail running", "outdoor"), ("trail running shoes",), ("Peakform", "AquaDash")),
        ("dumbbells", 7, (20, 300), ("Dumbbells", "Adjustable Dumbbell"),
         ("black", "grey", "silver"),
         ("for home strength training|home workout,strength", "for the garage gym|strength", "for toning workouts|toning"),
         ("cast iron with a rubber coating", "chrome-plated steel", "a neoprene coating"),
         ("quick weight adjustment from 2 to 24 kg|adjustable|Adjustable", "a storage rack|set",
          "hexagonal heads that don't roll", "knurled, non-slip handles|non-slip"),
         ("strength", "fitness"), ("resistance bands",), ("IronPulse",)),
        ("resistance bands", 7, (12, 45), ("Resistance Bands",),
         ("black", "red", "blue", "green", "yellow", "purple"),
         ("for home workouts and physio|home workout", "for travel workouts|travel", "for mobility and warm-ups|mobility"),
         ("natural latex|latex", "a latex-free fabric|latex-free"),
         ("five resistance levels|set", "handles, ankle straps and a door anchor", "a carry bag|travel",
          "a printed exercise guide"),
         ("fitness",), ("yoga mats",), ("IronPulse", "Peakform")),
        ("tennis rackets", 7, (60, 260), ("Tennis Racket",),
         ("black", "blue", "red", "white", "yellow"),
         ("for beginners and club players|beginner", "for advanced baseline players|advanced",
          "for doubles and quick net play|doubles"),
         ("graphite|graphite", "a carbon fibre frame|carbon", "aluminium|aluminium"),
         ("a large 105 sq in head for a forgiving sweet spot|oversize", "a lightweight 280 g frame|lightweight|Lightweight",
          "factory stringing", "a vibration-dampening grip"),
         ("tennis",), ("water bottles",), ("Rallypro",)),
        ("swim goggles", 7, (12, 50), ("Swim Goggles",),
         ("blue", "black", "pink", "white", "silver", "green"),
         ("for lap swimming in the pool|swimming", "for open-water swimming and triathlon|open water,triathlon",
          "for kids' swim lessons|kids"),
         ("soft silicone seals", "polycarbonate lenses"),
         ("an anti-fog coating|anti-fog", "UV protection|uv protection", "mirrored lenses for bright days|mirrored|Mirrored",
          "a quick-adjust split strap|adjustable"),
         ("swimming",), ("water bottles",), ("AquaDash",)),
        ("water bottles", 8, (12, 45), ("Water Bottle", "Insulated Bottle"),
         ("black", "white", "blue", "green", "pink", "red", "orange", "silver"),
         ("for the gym|gym", "for hiking and camping|hiking", "for the office and commute|office"),
         ("double-walled stainless steel|stainless steel", "BPA-free Tritan plastic", "lightweight aluminium"),
         ("vacuum insulation that keeps drinks cold for 24 hours|insulated|Insulated", "a leak-proof lid|leak-proof",
          "a built-in straw", "a 750 ml capacity", "dishwasher-safe parts|dishwasher safe"),
         ("hydration",), ("yoga mats",), ("AquaDash", "Peakform")),
    ),
]
SUB_BY_NAME = {s.name: s for s in SUBCATEGORIES}

MODEL_NAMES = {
    "footwear": ("Tempo", "Glide", "Ridge", "Summit", "Apex", "Drift", "Pace", "Canyon", "Metro", "Harbor",
                 "Breeze", "Strata", "Nova", "Flux", "Vista", "Cirrus", "Alpine", "Rover", "Echo", "Loft"),
    "clothing": ("Everyday", "Harbor", "Fjord", "Cascade", "Aspen", "Cedar", "Drift", "Horizon", "Tundra",
                 "Meadow", "Coastal", "Urban", "Nordic", "Maple", "Sierra", "Skye"),
    "electronics": ("Pulse", "Aero", "Echo", "Nova", "Orbit", "Quantum", "Wave", "Zen", "Arc", "Volt",
                    "Sonic", "Halo", "Core", "Flex", "Prism", "Air"),
    "home": ("Haven", "Nook", "Ember", "Willow", "Linen", "Terra", "Sage", "Cove", "Birch", "Hearth",
             "Alder", "Juniper", "Ivory", "Marlow", "Clay"),
    "beauty": ("Radiance", "Dew", "Bloom", "Velvet", "Aura", "Lumi", "Silk", "Petal", "Clarity", "Glow",
               "Pure", "Nectar", "Satin", "Verve", "Halo"),
    "sports": ("Pro", "Elite", "Sprint", "Flow", "Endure", "Titan", "Stride", "Swift", "Core", "Summit",
               "Vortex", "Ace", "Peak", "Rush", "Zenith"),
}
OPENERS = ("versatile", "durable", "comfortable", "well-made", "thoughtfully designed", "reliable",
           "good-looking", "everyday", "premium", "practical")
# Brand quality shifts the mean rating, so brands differ the way real ones do.
BRAND_QUALITY = {
    "Stridewell": 0.05, "TrailForge": 0.2, "Cloudstep": 0.15, "UrbanSole": -0.2,
    "Northwind": 0.2, "Loomly": 0.05, "Basecamp": 0.0, "Threadline": -0.15,
    "Voltix": -0.1, "Auralis": 0.2, "Pixelhaus": 0.0, "Nimbus": 0.1,
    "Hearthly": 0.1, "Casanova": 0.15, "Brightnest": -0.1, "Oakline": 0.05,
    "Glowra": 0.1, "PureLeaf": 0.15, "Velvetine": -0.05, "Dermaluxe": 0.1,
    "Peakform": 0.1, "AquaDash": -0.05, "IronPulse": 0.0, "Rallypro": 0.15,
}
BRAND_PRICE = {
    "Cloudstep": 1.15, "UrbanSole": 0.85, "TrailForge": 1.1, "Northwind": 1.2, "Threadline": 0.85,
    "Auralis": 1.2, "Voltix": 0.9, "Casanova": 1.15, "Brightnest": 0.9, "Dermaluxe": 1.25,
    "PureLeaf": 0.9, "Rallypro": 1.1, "AquaDash": 0.9,
}

# ---- review fragments ----------------------------------------------------------------------

# (positive, negative) remarks: ones that fit any product of the category, then ones that fit
# only one subcategory, so a review never praises the noise cancelling of a phone charger.
ASPECTS = {
    "footwear": (
        ("Fit is true to size.", "Comfortable straight out of the box, no break-in needed.",
         "Still look almost new after months of wear.", "Plenty of room in the toe box.",
         "The heel stays locked in, no slipping.", "Good support for my flat feet.", "Look even better in person."),
        ("They run half a size small.", "The sole started peeling after two months.", "Gave me blisters on the heel.",
         "Way too narrow for my feet.", "They squeak on smooth floors.", "The insole flattened out within weeks.",
         "Stiff and uncomfortable even after a month.", "The colour looks duller than in the photos."),
    ),
    "clothing": (
        ("The fabric feels soft and well made.", "Fits exactly as the size chart says.",
         "Washed it many times and it still looks new.", "The cut is really flattering.",
         "The colour is just like the photos.", "Stitching is solid."),
        ("Shrank after the first wash.", "Sizing is way off, order one size up.", "The fabric pills after a few wears.",
         "A seam came apart within a month.", "Thinner than I expected.", "The colour faded quickly.",
         "Itchy against the skin."),
    ),
    "electronics": (
        ("Build quality feels premium.", "Setup took a couple of minutes.", "Great value compared to the big brands.",
         "Works exactly as described."),
        ("Stopped working after a month.", "Feels cheap and plasticky.", "The instructions are useless.",
         "Arrived with a scratch on it."),
    ),
    "home": (
        ("Looks even better in person.", "Well made and feels sturdy.", "Made a lovely gift.", "Good size for our home."),
        ("Smaller than it looks in the pictures.", "The colour is different from the photos.", "Feels cheaply made.",
         "Arrived damaged."),
    ),
    "beauty": (
        ("A little goes a long way.", "Didn't irritate my sensitive skin.", "Lovely packaging.", "Worth every cent."),
        ("The smell is overpowering.", "The pump broke after a week.", "Tiny bottle for the price.",
         "Didn't notice any difference after a month."),
    ),
    "sports": (
        ("Solid build, feels like it will last.", "Great value for the price.", "Light and easy to carry."),
        ("Started to fall apart after a few weeks.", "Thinner than it looked online.", "Smells strongly of rubber."),
    ),
}
SUB_ASPECTS = {
    "running shoes": (("The cushioning makes long runs easy.", "Light and fast on tempo days."),
                      ("The cushioning felt dead after 300 km.", "Too soft for faster runs.")),
    "trail running shoes": (("Grip is excellent, even on wet rock.", "Kept my feet dry through muddy puddles."),
                            ("Not as waterproof as advertised.", "The lugs wore down quickly on rocky trails.")),
    "hiking boots": (("Rock-solid ankle support on steep descents.", "Warm and dry on a snowy hike."),
                     ("Heavy after a full day of hiking.", "Leaked at the seams on a rainy hike.")),
    "sneakers": (("They go with everything in my wardrobe.", "Comfortable for walking all day in the city."),
                 ("The white gets dirty so easily.", "No arch support to speak of.")),
    "sandals": (("They dry fast after the beach.", "Comfortable for a full day of sightseeing."),
                ("The straps rub the top of my foot.", "Slippery when wet.")),
    "dress shoes": (("Look sharp with a suit.", "Comfortable through a full day at the office."),
                    ("The leather creased badly within a week.", "Pinched my toes at a wedding.")),
    "slippers": (("So warm on cold floors.", "Like walking on a cloud."),
                 ("The sole is too thin for outside.", "Flattened out within a month.")),
    "t-shirts": (("Breathable enough for a sweaty workout.", "Keeps its shape wash after wash."),
                 ("The neckline stretched out fast.", "Slightly see-through.")),
    "hoodies": (("The perfect cosy weekend layer.", "The pocket is big enough for a phone and keys."),
                ("The hood is oddly small.", "The cuffs stretched out quickly.")),
    "rain jackets": (("Kept me dry in a proper downpour.", "Packs down small in my bag."),
                     ("Soaked through in heavy rain.", "Gets clammy on uphill hikes.")),
    "down jackets": (("Keeps me warm without being bulky.", "Warm enough for minus ten."),
                     ("Feathers poke through the seams.", "Not warm enough for real winter.")),
    "jeans": (("Stretchy enough to sit comfortably all day.", "The wash looks great."),
              ("Bagged out at the knees after a day.", "The dye rubbed off on my sofa.")),
    "leggings": (("They stay put through a whole yoga class.", "Not see-through at all."),
                 ("They roll down at the waist when running.", "See-through when I squat.")),
    "running shorts": (("The liner doesn't chafe on long runs.", "Light and breezy on hot days."),
                       ("The pocket bounces when running.", "The liner chafes after 10 km.")),
    "sweaters": (("Warm without being bulky.", "Looks smart at the office."),
                 ("Sheds fibres on everything.", "Stretched out after one wear.")),
    "headphones": (("Sound quality is crisp with deep bass.", "The noise cancelling is genuinely impressive.",
                    "Comfortable for a whole long-haul flight."),
                   ("The headband pinches after an hour.", "Sound is tinny at higher volume.",
                    "Noise cancelling barely does anything.")),
    "earbuds": (("Pairing took seconds.", "They stay in even on sprints.", "Calls sound clear."),
                ("Bluetooth keeps dropping out.", "The case battery drains fast.", "One earbud keeps disconnecting.")),
    "smartwatch": (("Battery easily lasts several days.", "GPS locks on in seconds.",
                    "The sleep tracking is surprisingly accurate."),
                   ("Battery life is nowhere near what is advertised.", "Heart-rate readings jump around.",
                    "The app is buggy and crashes.")),
    "bluetooth speaker": (("Surprisingly loud for its size.", "Survived a drop into the pool."),
                          ("Distorts at full volume.", "The bass is weak.")),
    "phone charger": (("Charges my phone really fast.", "Small enough for my travel bag."),
                      ("Gets noticeably hot while charging.", "Stopped charging after a month.")),
    "power bank": (("Charges my phone four times over.", "Saved me on a long travel day."),
                   ("Takes forever to recharge itself.", "Heavier than expected.")),
    "wireless keyboard": (("Typing feels great.", "Switching between laptop and tablet is instant."),
                          ("Some keys double-type.", "The backlight is uneven.")),
    "coffee makers": (("Makes a great cup every morning.", "Easy to clean."),
                      ("Leaks a little from the base.", "The coffee comes out lukewarm.")),
    "ceramic mugs": (("Keeps my tea warm for ages.", "Beautiful glaze."),
                     ("Arrived chipped.", "The handle is too small to hold comfortably.")),
    "scented candles": (("Lovely scent that fills the room.", "Burns evenly all the way down."),
                        ("The scent is barely noticeable.", "Tunnelled after the first burn.")),
    "throw blankets": (("Soft and warm, we use it every evening.", "Makes the sofa feel so cozy."),
                       ("Sheds fibres everywhere.", "Scratchy, not soft at all.")),
    "desk lamps": (("Bright but easy on the eyes.", "The arm stays exactly where I put it."),
                   ("Wobbly on the desk.", "Flickers at low brightness.")),
    "cookware": (("Heats evenly.", "Nothing sticks, even eggs."),
                 ("The coating started to scratch after a few uses.", "The handle gets too hot to touch.")),
    "bedding": (("Cool and soft, I sleep better.", "Gets softer with every wash."),
                ("Wrinkles like crazy.", "Pilled after a few washes.")),
    "kitchen knives": (("Razor sharp out of the box.", "Beautifully balanced."),
                       ("Lost its edge within weeks.", "Rust spots after one wash.")),
    "moisturizer": (("My skin feels soft and hydrated.", "Absorbs quickly without feeling greasy."),
                    ("Way too greasy for my skin.", "Broke me out after a few days.")),
    "face serum": (("Noticeable glow after two weeks.", "My dark spots have faded."),
                   ("Stings a bit on application.", "Pills under my make-up.")),
    "sunscreen": (("No white cast at all.", "Didn't burn all day at the beach."),
                  ("Left a white cast.", "Stings around the eyes.")),
    "cleanser": (("Gentle but cleans really well.", "Takes off waterproof mascara easily."),
                 ("Dries out my skin.", "Leaves a film on my face.")),
    "shampoo": (("Leaves my hair shiny and soft.", "My curls have never looked better."),
                ("Left my hair feeling weighed down.", "Made my scalp itchy.")),
    "lipstick": (("Lasts all day.", "The colour is gorgeous."),
                 ("Fades within a couple of hours.", "Dries my lips out.")),
    "perfume": (("The scent is subtle and lovely.", "I get compliments every time."),
                ("Fades within a couple of hours.", "Smells nothing like the description.")),
    "body lotion": (("My skin feels soft all day.", "Sinks in fast."),
                    ("Leaves a sticky film.", "Barely moisturising.")),
    "yoga mats": (("Grip is great even when sweaty.", "Cushioned enough for my knees."),
                  ("Slippery once you start sweating.", "Lost its shape quickly.")),
    "running socks": (("No blisters, even on a marathon.", "Stay dry on long runs."),
                      ("Holes in the heel after a month.", "They slip down into my shoe.")),
    "hydration packs": (("No bounce at all when running.", "Fits everything for a long day out."),
                        ("The reservoir leaks.", "Chafes under the arms.")),
    "dumbbells": (("Switching weights is quick.", "They don't roll around on the floor."),
                  ("Adjusting the weight is fiddly.", "The coating flakes off.")),
    "resistance bands": (("Perfect for my physio routine.", "A full-body workout in a tiny bag."),
                         ("One band snapped within a week.", "The handles dig into my hands.")),
    "tennis rackets": (("Lots of power and control.", "Easy on my tennis elbow."),
                       ("Too head-heavy for me.", "The strings went dead fast.")),
    "swim goggles": (("They don't leak at all.", "No fogging even after an hour."),
                     ("They fog up constantly.", "The strap broke on the first swim.")),
    "water bottles": (("Keeps water cold all day.", "Doesn't leak at all."),
                      ("Leaks if you tip it over.", "The paint chips easily.")),
}
OPENERS_5 = ("Love it!", "Absolutely love this.", "Five stars.", "Exactly what I was looking for.",
             "Best purchase this year.", "Really impressed.", "Could not be happier.", "Excellent quality.")
OPENERS_4 = ("Really happy with this.", "Very good overall.", "Great value for the price.", "Pretty great.",
             "Does the job well.", "Solid purchase.")
OPENERS_3 = ("It's okay.", "Mixed feelings.", "Decent, but not perfect.", "Average.", "Some good, some bad.",
             "Not bad, not great.")
OPENERS_NEG = ("Disappointed.", "Not worth the money.", "Would not buy again.", "Really poor quality.",
               "Sent it back.", "Very disappointing.", "Not impressed.")
CLOSERS_POS = ("Would definitely recommend.", "Already thinking about buying a second one.", "Fast delivery too.",
               "Highly recommend.", "Will buy from this brand again.")
CLOSERS_NEG = ("Save your money.", "Returning it.", "Customer service was slow to reply.",
               "Looking for a replacement now.", "Expected better from this brand.")

FIRST_NAMES = (
    "James", "Maria", "Wei", "Fatima", "Liam", "Sofia", "Noah", "Aisha", "Lucas", "Emma", "Mateo", "Olivia",
    "Arjun", "Chloe", "Kenji", "Amara", "Ethan", "Isabella", "Omar", "Grace", "Diego", "Hannah", "Yusuf",
    "Mia", "Daniel", "Priya", "Samuel", "Zoe", "Leo", "Nina", "Hugo", "Leila", "Oscar", "Ava", "Kofi",
    "Elena", "Ravi", "Julia", "Tomas", "Sara", "Felix", "Ines", "Jonah", "Maya", "Ivan", "Lucia", "Adam",
    "Nadia", "Theo", "Rosa", "Malik", "Clara", "Sean", "Yara", "Marco", "Alice", "Jin", "Lena", "Pablo", "Naomi",
)
LAST_NAMES = (
    "Smith", "Garcia", "Chen", "Khan", "Johnson", "Rossi", "Nguyen", "Mensah", "Brown", "Silva", "Kim",
    "Patel", "Martin", "Novak", "Tanaka", "Adeyemi", "Wilson", "Fischer", "Haddad", "Taylor", "Moreno",
    "Ivanova", "Clarke", "Santos", "Walker", "Costa", "Bauer", "Dubois", "Larsen", "Murphy", "Sato",
    "Hughes", "Reyes", "Kowalski", "Ali", "Jensen", "Romero", "Evans", "Singh", "Weber", "Torres", "Park",
    "Nielsen", "Okoro", "Becker", "Ramos", "Young", "Horvat", "Schmidt", "Lee",
)
RETURN_REASONS = ("Doesn't fit", "Changed my mind", "Arrived damaged", "Not as described", "Wrong item sent",
                  "Quality not as expected")


# ---- helpers -------------------------------------------------------------------------------

def _split(phrase: str) -> tuple[str, list[str], str | None]:
    parts = phrase.split("|")
    tags = [t for t in parts[1].split(",") if t] if len(parts) > 1 else []
    return parts[0], tags, parts[2] if len(parts) > 2 else None


def _an(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _price(rng: random.Random, lo: float, hi: float, brand: str) -> tuple[float, float]:
    """(price, where it sits in the subcategory's range: 0 cheap .. 1 dear)."""
    q = rng.betavariate(1.6, 2.2)
    raw = (lo + (hi - lo) * q) * BRAND_PRICE.get(brand, 1.0)
    cents = rng.choice((0.99, 0.99, 0.99, 0.49, 0.0))
    price = max(1, int(raw)) + cents
    return round(price if price >= 5 else 4.99, 2), q


def _review(rng: random.Random, stars: int, sub: Sub, use: str) -> str:
    """A short review whose tone follows ``stars``; remarks fit the subcategory more often than not."""
    (gpos, gneg), (spos, sneg) = ASPECTS[sub.category], SUB_ASPECTS[sub.name]

    def pos() -> str:
        return rng.choice(spos if rng.random() < 0.6 else gpos)

    def neg() -> str:
        return rng.choice(sneg if rng.random() < 0.6 else gneg)

    if stars == 5:
        parts = [rng.choice(OPENERS_5), pos(), pos() if rng.random() < 0.5 else f"Perfect {use}."]
        if rng.random() < 0.5:
            parts.append(rng.choice(CLOSERS_POS))
    elif stars == 4:
        parts = [rng.choice(OPENERS_4), pos(),
                 f"Perfect {use}." if rng.random() < 0.5 else "Only downside: " + _lower_first(neg())]
    elif stars == 3:
        parts = [rng.choice(OPENERS_3), pos(), "But " + _lower_first(neg())]
    else:
        parts = [rng.choice(OPENERS_NEG), neg()]
        if stars == 1:
            parts += [neg() if rng.random() < 0.5 else f"Not great {use}, honestly.", rng.choice(CLOSERS_NEG)]
        elif rng.random() < 0.5:
            parts.append(pos().rstrip(".") + ", at least.")
    return " ".join(dict.fromkeys(parts))


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _stars(rng: random.Random, mean: float, spread: float) -> int:
    return max(1, min(5, round(rng.gauss(mean, spread))))


# ---- catalog -------------------------------------------------------------------------------

def build_catalog(seed: int) -> list[dict[str, Any]]:
    """360 products, ids P0001.. in category and subcategory order (stable across seeds)."""
    rng = random.Random(f"{seed}:catalog")
    products: list[dict[str, Any]] = []
    titles: set[str] = set()
    for category in CATEGORIES:
        for sub in (s for s in SUBCATEGORIES if s.category == category):
            weights = [4.0 if b in sub.specialists else 1.0 for b in BRANDS[category]]
            for _ in range(sub.count):
                pid = f"P{len(products) + 1:04d}"
                brand = rng.choices(BRANDS[category], weights)[0]
                uses = rng.sample(sub.uses, min(len(sub.uses), rng.choice((1, 2))))
                material = rng.choice(sub.materials)
                features = rng.sample(sub.features, min(len(sub.features), rng.choice((2, 2, 3))))
                noun = rng.choice(sub.nouns)
                adj = next((a for _, _, a in map(_split, features) if a and a.lower() not in noun.lower()), None)
                title = ""
                for _attempt in range(50):
                    model = rng.choice(MODEL_NAMES[category])
                    if rng.random() < 0.45:
                        model += f" {rng.randint(2, 5)}"
                    title = " ".join(x for x in (brand, model, adj if rng.random() < 0.7 else None, noun) if x)
                    if title not in titles:
                        break
                titles.add(title)
                color = rng.choice(sub.colors)
                price, price_q = _price(rng, *sub.price, brand)

                use_texts = [_split(u)[0] for u in uses]
                material_text, material_tags, _ = _split(material)
                feature_texts = [_split(f)[0] for f in features]
                tags = list(sub.tags)
                for phrase in (*uses, material, *features):
                    tags += _split(phrase)[1]
                if sub.category not in ("beauty",) and rng.random() < 0.12 and "gift" not in tags:
                    tags.append("gift")
                tags = list(dict.fromkeys(tags))

                plural = noun.endswith("s")
                opener = rng.choice(OPENERS)
                head = f"{opener} {noun.lower()}" if plural else f"{_an(opener)} {opener} {noun.lower()}"
                sentences = [f"{head[:1].upper()}{head[1:]} {use_texts[0]}.", f"Made with {material_text}.",
                             f"Features {_join(feature_texts)}."]
                if len(use_texts) > 1:
                    sentences.append(f"Also great {use_texts[1]}.")
                if category == "footwear":
                    lo = rng.choice((36, 36, 37, 38, 39))
                    hi = rng.randint(max(lo + 5, 42), 46)
                    sizes = [str(s) for s in range(lo, hi + 1)]
                    sentences.append(f"Available in EU sizes {lo}-{hi}, in {color}.")
                elif category == "clothing":
                    lo_i = rng.choice((0, 0, 1))
                    hi_i = rng.randint(max(lo_i + 3, 4), 5)
                    sizes = list(CLOTHING_SIZES[lo_i:hi_i + 1])
                    sentences.append(f"Available in sizes {sizes[0]}-{sizes[-1]}, in {color}.")
                else:
                    sizes = ["one size"]
                    sentences.append(f"Finished in {color}." if category != "beauty" else f"Comes in {color} packaging.")
                if "vegan" in tags:
                    sentences.append("Vegan: made without animal-derived materials.")
                if "gift" in tags:
                    sentences.append("Arrives in gift-ready packaging.")
                if "recycled" in tags and rng.random() < 0.6:
                    sentences.append("Part of our lower-impact range.")

                if rng.random() < 0.07:  # the occasional dud
                    rating = rng.gauss(2.6, 0.5)
                else:
                    rating = rng.gauss(4.05 + BRAND_QUALITY[brand], 0.45)
                rating = round(min(5.0, max(1.0, rating)), 1)
                reviews = []
                for _r in range(rng.randint(3, 5)):
                    stars = _stars(rng, rating, 1.05)
                    reviews.append({"text": _review(rng, stars, sub, rng.choice(use_texts)), "rating": stars})
                stock = 0 if rng.random() < 0.08 else min(500, int(rng.expovariate(1 / 60)) + 1)

                products.append({
                    "id": pid, "title": title, "description": " ".join(sentences), "category": category,
                    "subcategory": sub.name, "brand": brand, "price": price, "currency": "USD", "color": color,
                    "sizes": sizes, "stock": stock, "rating": rating, "rating_count": 0, "reviews": reviews,
                    "tags": tags, "image_url": f"/img/{pid}.svg", "url": f"/product/{pid}",
                    "_price_q": price_q,
                })
    # Long-tailed popularity: Zipf over a random ranking, tilted towards well-rated items.
    ranking = list(range(len(products)))
    rng.shuffle(ranking)
    for rank, index in enumerate(ranking):
        p = products[index]
        p["_pop"] = (rank + 1) ** -0.95 * math.exp(0.9 * (p["rating"] - 4.0))
    total = sum(p["_pop"] for p in products)
    for p in products:
        p["rating_count"] = int(p["_pop"] / total * 60_000 * rng.uniform(0.6, 1.4)) + rng.randint(len(p["reviews"]), 8)
    return products


def public_product(p: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in p.items() if not k.startswith("_")}


def write_catalog(products: Sequence[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as fh:
        for p in products:
            fh.write(json.dumps(public_product(p), ensure_ascii=False) + "\n")
    os.replace(tmp, path)


# ---- customers, orders, interactions -------------------------------------------------------

@dataclass
class Profile:
    """What drives one customer's behaviour (kept for tests and analysis; not stored)."""
    customer_id: str
    start: datetime
    categories: dict[str, float]
    brands: list[str]
    tags: list[str]
    band: str
    activity: float
    affinity: list[float] = field(default_factory=list)
    cum: list[float] = field(default_factory=list)
    cum_trending: list[float] = field(default_factory=list)


@dataclass
class ShopData:
    seed: int
    today: date
    catalog: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    order_items: list[dict[str, Any]]
    returns: list[dict[str, Any]]
    interactions: list[dict[str, Any]]
    profiles: dict[str, Profile]
    trending: list[str]

    def db_rows(self) -> dict[str, list[dict[str, Any]]]:
        products = [{
            "id": p["id"], "title": p["title"], "category": p["category"], "subcategory": p["subcategory"],
            "brand": p["brand"], "price": p["price"], "currency": p["currency"], "color": p["color"],
            "stock": p["stock"], "rating": p["rating"], "rating_count": p["rating_count"], "url": p["url"],
            "image_url": p["image_url"],
        } for p in self.catalog]
        return {"customers": self.customers, "products": products, "orders": self.orders,
                "order_items": self.order_items, "returns": self.returns, "interactions": self.interactions}

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.db_rows().items()}


def _band_fit(band: str, q: float) -> float:
    if band == "budget":
        return 1.0 if q <= 0.45 else 0.3
    if band == "premium":
        return 1.0 if q >= 0.5 else 0.3
    return 1.0 if 0.2 <= q <= 0.8 else 0.4


def _customers(rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    rows = [
        {"id": "C0000", "name": "Ana Lopez", "email": "ana.lopez@example.com", "created_at": now - timedelta(days=420, hours=5)},
        {"id": "C0001", "name": "Ben Okafor", "email": "ben.okafor@example.com", "created_at": now - timedelta(days=300, hours=9)},
    ]
    emails = {r["email"] for r in rows}
    while len(rows) < N_CUSTOMERS:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        base = f"{first}.{last}".lower()
        email, n = f"{base}@example.com", 2
        while email in emails:
            email, n = f"{base}{n}@example.com", n + 1
        emails.add(email)
        created = now - timedelta(days=rng.uniform(20, 900))
        rows.append({"id": f"C{len(rows):04d}", "name": f"{first} {last}", "email": email,
                     "created_at": created.replace(microsecond=0)})
    return rows


def _profiles(rng: random.Random, customers: list[dict[str, Any]], catalog: list[dict[str, Any]],
              trending: set[int], now: datetime) -> dict[str, Profile]:
    cat_weight = {"footwear": 1.2, "clothing": 1.3, "electronics": 1.0, "home": 0.9, "beauty": 0.8, "sports": 0.8}
    profiles = {}
    year_ago = now - timedelta(days=365)
    for c in customers:
        n_pref = rng.choices((1, 2, 3), (0.3, 0.45, 0.25))[0]
        pool, chosen = list(CATEGORIES), []
        for _ in range(n_pref):
            pick = rng.choices(pool, [cat_weight[x] for x in pool])[0]
            pool.remove(pick)
            chosen.append(pick)
        cats = {x: 0.02 for x in CATEGORIES}
        for x, w in zip(chosen, (1.0, 0.6, 0.35), strict=False):
            cats[x] = w
        brand_pool = [b for x in chosen for b in BRANDS[x]]
        brands = rng.sample(brand_pool, min(len(brand_pool), rng.randint(1, 3)))
        tag_pool = [t for p in catalog if p["category"] in chosen for t in p["tags"]]
        tags = list(dict.fromkeys(rng.choice(tag_pool) for _ in range(rng.randint(1, 3))))
        band = rng.choices(("budget", "mid", "premium"), (0.35, 0.4, 0.25))[0]
        profile = Profile(c["id"], max(c["created_at"], year_ago), cats, brands, tags, band,
                          activity=rng.lognormvariate(0.0, 0.8))
        for p in catalog:
            a = p["_pop"] ** 0.9 * cats[p["category"]] * (3.0 if p["brand"] in brands else 1.0)
            a *= (1 + 0.7 * len(set(tags) & set(p["tags"]))) * _band_fit(band, p["_price_q"])
            profile.affinity.append(a)
        profile.cum = list(itertools.accumulate(profile.affinity))
        profile.cum_trending = list(itertools.accumulate(
            a * (6.0 if i in trending else 1.0) for i, a in enumerate(profile.affinity)))
        profiles[c["id"]] = profile
    return profiles


class _Sampler:
    """Draws products for a customer: overall, within a subcategory, or among complements."""

    def __init__(self, rng: random.Random, catalog: list[dict[str, Any]], trending: set[int], now: datetime) -> None:
        self.rng, self.catalog, self.trending = rng, catalog, trending
        self.trend_start = now - timedelta(days=TRENDING_DAYS)
        self.by_sub: dict[str, list[int]] = {}
        for i, p in enumerate(catalog):
            self.by_sub.setdefault(p["subcategory"], []).append(i)

    def _boost(self, i: int, ts: datetime) -> float:
        return 6.0 if i in self.trending and ts >= self.trend_start else 1.0

    def any(self, profile: Profile, ts: datetime) -> int:
        cum = profile.cum_trending if ts >= self.trend_start else profile.cum
        return bisect.bisect_right(cum, self.rng.random() * cum[-1])

    def in_sub(self, profile: Profile, sub: str, ts: datetime, exclude: Sequence[int] = ()) -> int | None:
        idx = [i for i in self.by_sub[sub] if i not in exclude]
        if not idx:
            return None
        weights = [profile.affinity[i] * self._boost(i, ts) + 1e-9 for i in idx]
        return self.rng.choices(idx, weights)[0]

    def complement(self, profile: Profile, anchor: int, ts: datetime, exclude: Sequence[int] = ()) -> int | None:
        sub = SUB_BY_NAME[self.catalog[anchor]["subcategory"]]
        return self.in_sub(profile, self.rng.choice(sub.goes_with), ts, exclude) if sub.goes_with else None


def _tracking(rng: random.Random, carrier: str) -> str:
    digits = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    if carrier == "UPS":
        return "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(16))
    if carrier == "USPS":
        return "9400" + digits(18)
    if carrier == "FedEx":
        return digits(12)
    return digits(10)


def _fixture_orders(catalog: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The documented orders tests rely on (see the module docstring). Items are the first
    products of fixed subcategories, so only their titles and prices vary with the seed."""
    first: dict[str, list[int]] = {}
    for i, p in enumerate(catalog):
        first.setdefault(p["subcategory"], []).append(i)
    d = lambda days, hours=0.0, minutes=0.0: now - timedelta(days=days) + timedelta(hours=hours, minutes=minutes)  # noqa: E731
    return [
        {"id": "SO10001", "customer_id": "C0000", "status": "placed", "placed_at": d(1, 19, 12),
         "items": [(first["running shoes"][0], 1)], "eta": 7},
        {"id": "SO10002", "customer_id": "C0000", "status": "paid", "placed_at": d(1, 9, 40), "paid_at": d(1, 9, 50),
         "items": [(first["bluetooth speaker"][0], 1), (first["phone charger"][0], 1)], "eta": 5},
        {"id": "SO10003", "customer_id": "C0000", "status": "shipped", "placed_at": d(4, 10, 5), "paid_at": d(4, 10, 9),
         "shipped_at": d(2, 8, 30), "carrier": "UPS", "tracking_number": "1Z999AA10123456784",
         "items": [(first["trail running shoes"][0], 1), (first["running socks"][0], 2)], "eta": 6},
        {"id": "SO10004", "customer_id": "C0000", "status": "delivered", "placed_at": d(11, 16, 20), "paid_at": d(11, 16, 22),
         "shipped_at": d(9, 11), "delivered_at": d(5, 14, 30), "carrier": "FedEx", "tracking_number": "612999901234",
         "items": [(first["rain jackets"][0], 1)], "eta": 6},
        {"id": "SO10005", "customer_id": "C0000", "status": "delivered", "placed_at": d(66, 12), "paid_at": d(66, 12, 3),
         "shipped_at": d(64, 9), "delivered_at": d(60, 15, 45), "carrier": "USPS",
         "tracking_number": "9400111899223344556677", "items": [(first["yoga mats"][0], 1)], "eta": 6},
        {"id": "SO10006", "customer_id": "C0000", "status": "cancelled", "placed_at": d(20, 18), "paid_at": d(20, 18, 5),
         "cancelled_at": d(20, 20), "items": [(first["headphones"][0], 1)], "eta": 6},
        {"id": "SO10007", "customer_id": "C0000", "status": "returned", "placed_at": d(46, 8, 15), "paid_at": d(46, 8, 20),
         "shipped_at": d(44, 10), "delivered_at": d(40, 13), "carrier": "DHL", "tracking_number": "4012345678",
         "items": [(first["hiking boots"][0], 1)], "eta": 6,
         "return": {"id": "R-FIX10007", "reason": "Doesn't fit", "created_at": d(36, 9), "status": "refunded"}},
        {"id": "SO10008", "customer_id": "C0001", "status": "delivered", "placed_at": d(15, 11), "paid_at": d(15, 11, 2),
         "shipped_at": d(13, 9), "delivered_at": d(10, 12, 10), "carrier": "UPS", "tracking_number": "1Z999AA10987654321",
         "items": [(first["ceramic mugs"][0], 4)], "eta": 6},
    ]


def _simulate_order(rng: random.Random, placed: datetime, now: datetime) -> dict[str, Any]:
    """Timestamps of each stage the order reached by ``now`` and the resulting status."""
    stages: dict[str, Any] = {"placed_at": placed}
    slow_payment = rng.random() < 0.2  # bank transfers wait for confirmation
    paid = placed + (timedelta(hours=rng.uniform(6, 60)) if slow_payment else timedelta(minutes=rng.uniform(1, 45)))
    r = rng.random()
    if r < 0.03:  # never paid: cancelled after three days
        cancel = placed + timedelta(days=3)
        if cancel <= now:
            stages.update(status="cancelled", cancelled_at=cancel)
        else:
            stages.update(status="placed")
        return stages
    if paid > now:
        return {**stages, "status": "placed"}
    stages["paid_at"] = paid
    shipped = paid + timedelta(hours=rng.uniform(10, 60))
    if r < 0.08:  # cancelled by the shopper before it shipped
        cancel = paid + (shipped - paid) * rng.uniform(0.05, 0.9)
        if cancel > now:
            return {**stages, "status": "paid"}
        return {**stages, "status": "cancelled", "cancelled_at": cancel}
    if shipped > now:
        return {**stages, "status": "paid"}
    carrier = rng.choices(CARRIERS, (0.35, 0.25, 0.3, 0.1))[0]
    stages.update(shipped_at=shipped, carrier=carrier, tracking_number=_tracking(rng, carrier))
    delivered = shipped + timedelta(hours=rng.uniform(30, 140))
    if delivered > now:
        return {**stages, "status": "shipped"}
    stages["delivered_at"] = delivered
    if rng.random() < 0.07:
        returned = delivered + timedelta(days=rng.uniform(3, 25))
        if returned <= now:
            stages["return"] = {"reason": rng.choice(RETURN_REASONS), "created_at": returned, "status": "refunded"}
            return {**stages, "status": "returned"}
    return {**stages, "status": "delivered"}


def build(seed: int = 7, today: date | None = None, progress: bool = False) -> ShopData:
    """All the demo data in memory (no I/O)."""
    today = today or datetime.now(timezone.utc).date()
    now = datetime.combine(today, time.min)  # naive UTC: every timestamp lies before today 00:00
    catalog = build_catalog(seed)
    rng = random.Random(f"{seed}:{today.isoformat()}:shop")
    by_pop = sorted(range(len(catalog)), key=lambda i: -catalog[i]["_pop"])
    trending = set(rng.sample(by_pop[20:180], 14))
    customers = _customers(rng, now)
    profiles = _profiles(rng, customers, catalog, trending, now)
    sampler = _Sampler(rng, catalog, trending, now)
    events: list[tuple[datetime, int, dict[str, Any]]] = []

    def emit(ts: datetime, customer_id: str, i: int, event: str, value: float | None = None) -> None:
        row = {"customer_id": customer_id, "product_id": catalog[i]["id"], "event": event, "value": value,
               "ts": ts.replace(microsecond=0), "sender_id": None}
        events.append((row["ts"], len(events), row))

    # -- orders: fixtures, then ~1200 in total from the customers' preferences ---------------
    raw_orders = [{**o, "fixture": True} for o in _fixture_orders(catalog, now)]
    shoppers = [c["id"] for c in customers[2:]]
    shopper_weights = [profiles[c].activity ** 0.8 for c in shoppers]
    generated = []
    for _ in range(N_ORDERS - len(raw_orders)):
        cid = rng.choices(shoppers, shopper_weights)[0]
        profile = profiles[cid]
        span = (now - timedelta(hours=2) - profile.start).total_seconds()
        placed = (profile.start + timedelta(seconds=span * rng.random() ** 0.8)).replace(microsecond=0)
        first = sampler.any(profile, placed)
        items = [first]
        for _extra in range(rng.choices((0, 1, 2, 3), (0.58, 0.29, 0.10, 0.03))[0]):
            nxt = (sampler.complement(profile, items[-1], placed, items) if rng.random() < 0.6 else None)
            nxt = nxt if nxt is not None else sampler.any(profile, placed)
            if nxt not in items:
                items.append(nxt)
        quantities = [(i, 2 if catalog[i]["price"] < 40 and rng.random() < 0.15 else 1) for i in items]
        generated.append({"customer_id": cid, "items": quantities, "eta": rng.randint(4, 7),
                          **_simulate_order(rng, placed, now)})
    generated.sort(key=lambda o: o["placed_at"])
    for n, o in enumerate(generated):
        o["id"] = f"SO{10009 + n}"
    orders, order_items, returns = [], [], []
    for o in [*raw_orders, *generated]:
        lines = []
        for i, qty in o["items"]:
            unit = catalog[i]["price"]
            if "fixture" not in o and rng.random() < 0.12:  # a sale price now and then
                unit = round(unit * rng.choice((0.8, 0.85, 0.9)), 2)
            lines.append({"order_id": o["id"], "product_id": catalog[i]["id"], "title": catalog[i]["title"],
                          "quantity": qty, "unit_price": unit})
        order_items += lines
        orders.append({
            "id": o["id"], "customer_id": o["customer_id"], "status": o["status"], "placed_at": o["placed_at"],
            "paid_at": o.get("paid_at"), "shipped_at": o.get("shipped_at"), "delivered_at": o.get("delivered_at"),
            "cancelled_at": o.get("cancelled_at"), "carrier": o.get("carrier"),
            "tracking_number": o.get("tracking_number"),
            "estimated_delivery": None if o["status"] == "cancelled" else (o["placed_at"] + timedelta(days=o["eta"])).date(),
            "total": round(sum(x["unit_price"] * x["quantity"] for x in lines), 2),
        })
        if "return" in o:
            ret = o["return"]
            returns.append({"id": ret.get("id") or f"R-{rng.getrandbits(32):08X}", "order_id": o["id"],
                            "reason": ret["reason"], "created_at": ret["created_at"], "status": ret["status"]})
        # The purchase funnel around the order: views and carts just before, ratings after delivery.
        profile, placed = profiles[o["customer_id"]], o["placed_at"]
        for i, _qty in o["items"]:
            for _v in range(rng.randint(1, 2)):
                emit(placed - timedelta(minutes=rng.uniform(8, 120)), o["customer_id"], i, "view")
            for _alt in range(rng.randint(0, 3)):
                alt = sampler.in_sub(profile, catalog[i]["subcategory"], placed, [i])
                if alt is not None:
                    emit(placed - timedelta(minutes=rng.uniform(8, 150)), o["customer_id"], alt, "view")
            emit(placed - timedelta(minutes=rng.uniform(1, 7)), o["customer_id"], i, "cart")
            emit(placed, o["customer_id"], i, "purchase")
            delivered = o.get("delivered_at")
            if delivered is not None and rng.random() < 0.35:
                ts = delivered + timedelta(days=rng.uniform(1, 14))
                if ts < now:
                    penalty = 1.5 if o["status"] == "returned" else 0.0
                    emit(ts, o["customer_id"], i, "rating", float(_stars(rng, catalog[i]["rating"] - penalty, 0.9)))

    # -- browsing sessions: the bulk of the log ------------------------------------------------
    budget = TARGET_INTERACTIONS - len(events)
    per_session = 4.4  # views + carts a session yields on average (measured)
    total_activity = sum(p.activity for p in profiles.values())
    for c in tqdm(customers, desc="interactions", unit="customer", disable=not progress):
        profile = profiles[c["id"]]
        n_sessions = max(1, round(budget / per_session * profile.activity / total_activity))
        span = (now - timedelta(minutes=30) - profile.start).total_seconds()
        for _s in range(n_sessions):
            ts = profile.start + timedelta(seconds=span * rng.random() ** 0.75)
            anchor = sampler.any(profile, ts)
            viewed = [anchor]
            for _v in range(min(11, int(rng.expovariate(1 / 3.8)))):
                r = rng.random()
                nxt = None
                if r < 0.55:
                    nxt = sampler.in_sub(profile, catalog[anchor]["subcategory"], ts, viewed[-1:])
                elif r < 0.75:
                    nxt = sampler.complement(profile, anchor, ts)
                viewed.append(nxt if nxt is not None else sampler.any(profile, ts))
            for i in viewed:
                ts += timedelta(seconds=rng.uniform(15, 240))
                emit(ts, c["id"], i, "view")
                if rng.random() < (0.09 if catalog[i]["brand"] in profile.brands else 0.05):
                    emit(ts + timedelta(seconds=rng.uniform(5, 60)), c["id"], i, "cart")
    events.sort(key=lambda e: (e[0], e[1]))
    interactions = [e[2] for e in events if e[0] < now]
    return ShopData(seed, today, catalog, customers, orders, order_items, returns, interactions, profiles,
                    sorted(catalog[i]["id"] for i in trending))


def generate(out: Path | str = DEFAULT_OUT, seed: int = 7, today: date | None = None,
             database_url: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Writes the catalog and meta files into ``out`` and fills the shop DB; returns the summary."""
    from shop.db import ShopDB
    from shop.settings import configured_database_url

    out = Path(out)
    data = build(seed, today, progress)
    write_catalog(data.catalog, out / "catalog.jsonl")
    url = database_url or configured_database_url() or f"sqlite:///{(out / 'shop.db').resolve()}"
    db = ShopDB(url)
    db.load_demo_data(data.db_rows())
    db.dispose()
    meta = {"seed": seed, "today": data.today.isoformat(), "counts": data.counts(), "trending": data.trending}
    (out / "shop_meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return {**meta, "database": repr(db)}
