"""The certificate's words in Belgium's three languages and English (R11: certificates are delivered in the
buyer's language), and how numbers are written in each.

::

    text(language, key, **values) ──► the sentence, values put in ({name} placeholders, escaped by the caller)
    count(language, 105000) ──► "105,000" (en) · "105.000" (nl, de) · "105 000" (fr, a narrow no-break space)
    language_of(query, accept_language) ──► "nl" | "fr" | "de" | "en"

Every key has all four languages, with the same placeholders (``tests/unit/projections/test_i18n.py``).
Codes (anomaly kinds, suspected causes, judgment reasons) stay as codes beside the words: they are what a
garage quotes to the registry.
"""

from __future__ import annotations

import re
import string

LANGUAGES: tuple[str, ...] = ("nl", "fr", "de", "en")
DEFAULT_LANGUAGE = "en"

MESSAGES: dict[str, dict[str, str]] = {
    "certificate": {
        "en": "Car-Pass certificate",
        "nl": "Car-Pass-certificaat",
        "fr": "Certificat Car-Pass",
        "de": "Car-Pass-Zertifikat",
    },
    "drawn_up": {
        "en": "Drawn up on {date}",
        "nl": "Opgemaakt op {date}",
        "fr": "Établi le {date}",
        "de": "Ausgestellt am {date}",
    },
    "vin": {
        "en": "VIN",
        "nl": "Chassisnummer (VIN)",
        "fr": "Numéro de châssis (VIN)",
        "de": "Fahrgestellnummer (VIN)",
    },
    "number": {
        "en": "number",
        "nl": "nummer",
        "fr": "numéro",
        "de": "Nummer",
    },
    "valid_until": {
        "en": "valid until {date}",
        "nl": "geldig tot {date}",
        "fr": "valable jusqu'au {date}",
        "de": "gültig bis {date}",
    },
    "price": {
        "en": "price EUR {price}",
        "nl": "prijs EUR {price}",
        "fr": "prix EUR {price}",
        "de": "Preis EUR {price}",
    },
    "free": {
        "en": "free of charge (R11)",
        "nl": "gratis (R11)",
        "fr": "gratuit (R11)",
        "de": "kostenlos (R11)",
    },
    "verify_online": {
        "en": "Anyone can check this certificate's authenticity online with its number, no key needed:",
        "nl": "Iedereen kan de echtheid van dit certificaat online nagaan met het nummer, zonder sleutel:",
        "fr": "Chacun peut vérifier l'authenticité de ce certificat en ligne avec son numéro, sans clé :",
        "de": "Jeder kann die Echtheit dieses Zertifikats online mit seiner Nummer prüfen, ohne Schlüssel:",
    },
    "scan_to_verify": {
        "en": "Scan to verify",
        "nl": "Scan om na te gaan",
        "fr": "Scannez pour vérifier",
        "de": "Zum Prüfen scannen",
    },
    "issued_by": {
        "en": "Issued by {issuer}",
        "nl": "Uitgereikt door {issuer}",
        "fr": "Délivré par {issuer}",
        "de": "Ausgestellt von {issuer}",
    },
    "preview": {
        "en": "preview, not an issued certificate (no number).",
        "nl": "voorbeeld, geen uitgereikt certificaat (geen nummer).",
        "fr": "aperçu, pas un certificat délivré (pas de numéro).",
        "de": "Vorschau, kein ausgestelltes Zertifikat (keine Nummer).",
    },
    # --- the summary boxes
    "last_recorded": {
        "en": "Last recorded",
        "nl": "Laatst geregistreerd",
        "fr": "Dernier relevé",
        "de": "Zuletzt erfasst",
    },
    "none": {
        "en": "none",
        "nl": "geen",
        "fr": "aucun",
        "de": "keine",
    },
    "on_date": {
        "en": "on {date}",
        "nl": "op {date}",
        "fr": "le {date}",
        "de": "am {date}",
    },
    "no_reading_yet": {
        "en": "no reading yet",
        "nl": "nog geen kilometerstand",
        "fr": "pas encore de relevé",
        "de": "noch kein Kilometerstand",
    },
    "judgment_of_history": {
        "en": "Judgment of the history",
        "nl": "Beoordeling van de historiek",
        "fr": "Jugement de l'historique",
        "de": "Beurteilung des Verlaufs",
    },
    "readings_count": {
        "en": "{n} readings",
        "nl": "{n} kilometerstanden",
        "fr": "{n} relevés",
        "de": "{n} Kilometerstände",
    },
    "open_anomalies": {
        "en": "Open anomalies",
        "nl": "Openstaande anomalieën",
        "fr": "Anomalies ouvertes",
        "de": "Offene Auffälligkeiten",
    },
    "see_below": {
        "en": "see below",
        "nl": "zie verder",
        "fr": "voir ci-dessous",
        "de": "siehe unten",
    },
    "recalls_not_done": {
        "en": "Recalls not carried out",
        "nl": "Niet uitgevoerde terugroepacties",
        "fr": "Rappels non effectués",
        "de": "Nicht durchgeführte Rückrufe",
    },
    # --- judgments
    "LOGICAL": {
        "en": "LOGICAL",
        "nl": "LOGISCH",
        "fr": "LOGIQUE",
        "de": "LOGISCH",
    },
    "ILLOGICAL": {
        "en": "ILLOGICAL",
        "nl": "ONLOGISCH",
        "fr": "ILLOGIQUE",
        "de": "UNLOGISCH",
    },
    "NO_JUDGMENT": {
        "en": "NO_JUDGMENT",
        "nl": "GEEN OORDEEL",
        "fr": "PAS DE JUGEMENT",
        "de": "KEIN URTEIL",
    },
    # --- mentions
    "imported": {
        "en": "Imported second-hand from abroad{country}.",
        "nl": "Tweedehands ingevoerd uit het buitenland{country}.",
        "fr": "Importé d'occasion de l'étranger{country}.",
        "de": "Als Gebrauchtwagen aus dem Ausland eingeführt{country}.",
    },
    "five_digits": {
        "en": "This vehicle has a 5-digit odometer: values are shown as displayed; the counter goes from "
              "99,999 back to 0.",
        "nl": "Dit voertuig heeft een kilometerteller met 5 cijfers: de standen staan zoals getoond; de "
              "teller springt van 99.999 terug naar 0.",
        "fr": "Ce véhicule a un compteur à 5 chiffres : les valeurs sont celles affichées ; le compteur "
              "passe de 99 999 à 0.",
        "de": "Dieses Fahrzeug hat einen 5-stelligen Kilometerzähler: Werte wie angezeigt; der Zähler "
              "springt von 99.999 auf 0.",
    },
    "replaced_on": {
        "en": "The odometer was replaced: the history restarts on the new counter on {date}.",
        "nl": "De kilometerteller werd vervangen: de historiek begint opnieuw op de nieuwe teller op {date}.",
        "fr": "Le compteur a été remplacé : l'historique reprend sur le nouveau compteur le {date}.",
        "de": "Der Kilometerzähler wurde ersetzt: der Verlauf beginnt am {date} neu auf dem neuen Zähler.",
    },
    "accident_required": {
        "en": "A post-accident inspection is required before this vehicle may be driven again.",
        "nl": "Een keuring na ongeval is vereist voordat dit voertuig opnieuw de weg op mag.",
        "fr": "Un contrôle après accident est requis avant que ce véhicule puisse à nouveau circuler.",
        "de": "Vor der erneuten Nutzung dieses Fahrzeugs ist eine Prüfung nach Unfall erforderlich.",
    },
    # --- the vehicle's facts
    "vehicle": {
        "en": "Vehicle",
        "nl": "Voertuig",
        "fr": "Véhicule",
        "de": "Fahrzeug",
    },
    "make_model": {
        "en": "Make and model",
        "nl": "Merk en model",
        "fr": "Marque et modèle",
        "de": "Marke und Modell",
    },
    "first_registration": {
        "en": "First registration",
        "nl": "Eerste inschrijving",
        "fr": "Première immatriculation",
        "de": "Erstzulassung",
    },
    "first_registration_be": {
        "en": "First registration in Belgium",
        "nl": "Eerste inschrijving in België",
        "fr": "Première immatriculation en Belgique",
        "de": "Erstzulassung in Belgien",
    },
    "euro_norm": {
        "en": "Euro norm",
        "nl": "Euronorm",
        "fr": "Norme Euro",
        "de": "Euronorm",
    },
    "co2": {
        "en": "Official CO2 emissions",
        "nl": "Officiële CO2-uitstoot",
        "fr": "Émissions officielles de CO2",
        "de": "Offizielle CO2-Emissionen",
    },
    "fuel": {
        "en": "Fuel type",
        "nl": "Brandstof",
        "fr": "Carburant",
        "de": "Kraftstoff",
    },
    "electric_motor": {
        "en": "Electric motor for propulsion",
        "nl": "Elektrische motor voor de aandrijving",
        "fr": "Moteur électrique de propulsion",
        "de": "Elektromotor für den Antrieb",
    },
    "electric_range": {
        "en": "Official electric range",
        "nl": "Officiële elektrische actieradius",
        "fr": "Autonomie électrique officielle",
        "de": "Offizielle elektrische Reichweite",
    },
    "accident_inspection": {
        "en": "Post-accident inspection required",
        "nl": "Keuring na ongeval vereist",
        "fr": "Contrôle après accident requis",
        "de": "Prüfung nach Unfall erforderlich",
    },
    "unknown": {
        "en": "unknown",
        "nl": "onbekend",
        "fr": "inconnu",
        "de": "unbekannt",
    },
    "yes": {
        "en": "yes",
        "nl": "ja",
        "fr": "oui",
        "de": "ja",
    },
    "no": {
        "en": "no",
        "nl": "nee",
        "fr": "non",
        "de": "nein",
    },
    "none_sentence": {
        "en": "None.",
        "nl": "Geen.",
        "fr": "Aucun.",
        "de": "Keine.",
    },
    # --- the history
    "mileage_history": {
        "en": "Mileage history",
        "nl": "Kilometerhistoriek",
        "fr": "Historique kilométrique",
        "de": "Kilometerverlauf",
    },
    "judgment": {
        "en": "Judgment",
        "nl": "Beoordeling",
        "fr": "Jugement",
        "de": "Beurteilung",
    },
    "reasons": {
        "en": "reasons",
        "nl": "redenen",
        "fr": "motifs",
        "de": "Gründe",
    },
    "ROLLBACK": {
        "en": "Rollback: the mileage went down and stayed down",
        "nl": "Terugdraaiing: de kilometerstand daalde en bleef lager",
        "fr": "Recul : le kilométrage a baissé et est resté plus bas",
        "de": "Zurückgedreht: der Kilometerstand sank und blieb niedriger",
    },
    "SPIKE": {
        "en": "A reading far above the readings around it",
        "nl": "Een kilometerstand ver boven de standen ervoor en erna",
        "fr": "Un relevé bien au-dessus des relevés qui l'entourent",
        "de": "Ein Kilometerstand weit über den Ständen davor und danach",
    },
    "DIP": {
        "en": "A reading far below the readings around it",
        "nl": "Een kilometerstand ver onder de standen ervoor en erna",
        "fr": "Un relevé bien en dessous des relevés qui l'entourent",
        "de": "Ein Kilometerstand weit unter den Ständen davor und danach",
    },
    "IMPLAUSIBLE_RATE": {
        "en": "An implausible jump in mileage",
        "nl": "Een onwaarschijnlijke sprong in kilometers",
        "fr": "Un saut de kilométrage invraisemblable",
        "de": "Ein unplausibler Sprung im Kilometerstand",
    },
    "CONFLICTING_DUPLICATE": {
        "en": "Two different values on the same day",
        "nl": "Twee verschillende standen op dezelfde dag",
        "fr": "Deux valeurs différentes le même jour",
        "de": "Zwei verschiedene Werte am selben Tag",
    },
    "STALE_HISTORY": {
        "en": "No recent reading",
        "nl": "Geen recente kilometerstand",
        "fr": "Pas de relevé récent",
        "de": "Kein aktueller Kilometerstand",
    },
    "counter_restarted": {
        "en": "The counter started again near zero: most likely an odometer replaced without being reported"
              " (R6), not a counter turned back",
        "nl": "De teller begon opnieuw bij bijna nul: waarschijnlijk een vervangen kilometerteller die niet"
              " gemeld werd (R6), geen teruggedraaide teller",
        "fr": "Le compteur est reparti de presque zéro : très probablement un compteur remplacé sans "
              "déclaration (R6), pas un compteur reculé",
        "de": "Der Zähler begann wieder bei fast null: höchstwahrscheinlich ein nicht gemeldeter Austausch "
              "des Kilometerzählers (R6), kein zurückgedrehter Zähler",
    },
    "reading_of": {
        "en": "reading of {date}",
        "nl": "kilometerstand van {date}",
        "fr": "relevé du {date}",
        "de": "Kilometerstand vom {date}",
    },
    "unknown_date": {
        "en": "unknown date",
        "nl": "onbekende datum",
        "fr": "date inconnue",
        "de": "unbekanntes Datum",
    },
    "likely": {
        "en": "likely {cause}",
        "nl": "wellicht {cause}",
        "fr": "probablement {cause}",
        "de": "wahrscheinlich {cause}",
    },
    "suspected_cause": {
        "en": "suspected cause {code}",
        "nl": "vermoedelijke oorzaak {code}",
        "fr": "cause présumée {code}",
        "de": "vermutete Ursache {code}",
    },
    "probably_value": {
        "en": "the value was probably {value}",
        "nl": "de stand was wellicht {value}",
        "fr": "la valeur était probablement {value}",
        "de": "der Wert war wahrscheinlich {value}",
    },
    "EXTRA_DIGIT": {
        "en": "a digit too many",
        "nl": "een cijfer te veel",
        "fr": "un chiffre de trop",
        "de": "eine Ziffer zu viel",
    },
    "MISSING_DIGIT": {
        "en": "a missing digit",
        "nl": "een ontbrekend cijfer",
        "fr": "un chiffre manquant",
        "de": "eine fehlende Ziffer",
    },
    "SWAPPED_DIGITS": {
        "en": "two digits swapped",
        "nl": "twee omgewisselde cijfers",
        "fr": "deux chiffres inversés",
        "de": "zwei vertauschte Ziffern",
    },
    "MISTYPED_DIGIT": {
        "en": "a mistyped digit",
        "nl": "een verkeerd getypt cijfer",
        "fr": "un chiffre mal tapé",
        "de": "eine falsch getippte Ziffer",
    },
    "MILES_AS_KM": {
        "en": "miles entered as km",
        "nl": "mijlen ingevoerd als km",
        "fr": "miles saisis en km",
        "de": "Meilen als km eingegeben",
    },
    # --- the readings table
    "recorded_readings": {
        "en": "Recorded readings",
        "nl": "Geregistreerde kilometerstanden",
        "fr": "Relevés enregistrés",
        "de": "Erfasste Kilometerstände",
    },
    "date": {
        "en": "Date",
        "nl": "Datum",
        "fr": "Date",
        "de": "Datum",
    },
    "odometer": {
        "en": "Odometer",
        "nl": "Kilometerstand",
        "fr": "Kilométrage",
        "de": "Kilometerstand",
    },
    "source": {
        "en": "Source",
        "nl": "Bron",
        "fr": "Source",
        "de": "Quelle",
    },
    "counter": {
        "en": "Counter",
        "nl": "Teller",
        "fr": "Compteur n°",
        "de": "Zähler",
    },
    "work": {
        "en": "Work done",
        "nl": "Uitgevoerde werken",
        "fr": "Travaux effectués",
        "de": "Durchgeführte Arbeiten",
    },
    "note": {
        "en": "Note",
        "nl": "Opmerking",
        "fr": "Remarque",
        "de": "Anmerkung",
    },
    "odometer_replaced": {
        "en": "odometer replaced",
        "nl": "kilometerteller vervangen",
        "fr": "compteur remplacé",
        "de": "Kilometerzähler ersetzt",
    },
    "in_open_anomaly": {
        "en": "in an open anomaly",
        "nl": "in een openstaande anomalie",
        "fr": "dans une anomalie ouverte",
        "de": "in einer offenen Auffälligkeit",
    },
    "footer": {
        "en": "Dates are Brussels dates; values as shown on the dashboard. Source: who sent the reading (an"
              " inspection, a workshop visit, the car's own connected feed...).",
        "nl": "Data volgens Brusselse tijd; standen zoals op het dashboard. Bron: wie de kilometerstand "
              "doorgaf (een keuring, een garagebezoek, de eigen verbinding van de wagen...).",
        "fr": "Dates à l'heure de Bruxelles ; valeurs telles qu'affichées au tableau de bord. Source : qui "
              "a transmis le relevé (un contrôle technique, un passage au garage, la voiture connectée...).",
        "de": "Daten nach Brüsseler Zeit; Werte wie auf dem Armaturenbrett angezeigt. Quelle: wer den "
              "Kilometerstand übermittelt hat (eine Prüfung, ein Werkstattbesuch, das vernetzte "
              "Fahrzeug...).",
    },
    "WORKSHOP": {
        "en": "Workshop",
        "nl": "Werkplaats",
        "fr": "Atelier",
        "de": "Werkstatt",
    },
    "INSPECTION": {
        "en": "Inspection",
        "nl": "Keuring",
        "fr": "Contrôle technique",
        "de": "Prüfung",
    },
    "CONNECTED_VEHICLE": {
        "en": "Connected vehicle",
        "nl": "Verbonden voertuig",
        "fr": "Véhicule connecté",
        "de": "Vernetztes Fahrzeug",
    },
    "FOREIGN_HISTORY": {
        "en": "Foreign history",
        "nl": "Buitenlandse historiek",
        "fr": "Historique étranger",
        "de": "Ausländischer Verlauf",
    },
    "MANUAL": {
        "en": "Manual",
        "nl": "Handmatig",
        "fr": "Manuel",
        "de": "Manuell",
    },
    "GARAGE": {
        "en": "garage",
        "nl": "garage",
        "fr": "garage",
        "de": "Autowerkstatt",
    },
    "BODY_SHOP": {
        "en": "body shop",
        "nl": "carrosserie",
        "fr": "carrosserie",
        "de": "Karosseriebetrieb",
    },
    "TYRE_CENTRE": {
        "en": "tyre centre",
        "nl": "bandencentrale",
        "fr": "centre de pneus",
        "de": "Reifenhandel",
    },
    "FAST_FIT": {
        "en": "fast fit",
        "nl": "snelservice",
        "fr": "entretien rapide",
        "de": "Schnellservice",
    },
    "DEALER": {
        "en": "dealer",
        "nl": "dealer",
        "fr": "concessionnaire",
        "de": "Händler",
    },
    "INSPECTION_BODY": {
        "en": "inspection body",
        "nl": "keuringsinstelling",
        "fr": "organisme de contrôle",
        "de": "Prüfstelle",
    },
    "MANUFACTURER": {
        "en": "manufacturer",
        "nl": "constructeur",
        "fr": "constructeur",
        "de": "Hersteller",
    },
    "IMPORTER": {
        "en": "importer",
        "nl": "invoerder",
        "fr": "importateur",
        "de": "Importeur",
    },
    "RDW": {
        "en": "RDW (Netherlands)",
        "nl": "RDW (Nederland)",
        "fr": "RDW (Pays-Bas)",
        "de": "RDW (Niederlande)",
    },
    "OTHER": {
        "en": "other",
        "nl": "andere",
        "fr": "autre",
        "de": "andere",
    },
    # --- the public check (GET /verify/{number})
    "verify_title": {
        "en": "Verify Car-Pass certificate",
        "nl": "Car-Pass-certificaat nagaan",
        "fr": "Vérifier le certificat Car-Pass",
        "de": "Car-Pass-Zertifikat prüfen",
    },
    "authentic": {
        "en": "<strong>Authentic</strong>: signed by the registry (key {key_id}) and unchanged since.",
        "nl": "<strong>Echt</strong>: ondertekend door het register (sleutel {key_id}) en sindsdien "
              "ongewijzigd.",
        "fr": "<strong>Authentique</strong> : signé par le registre (clé {key_id}) et inchangé depuis.",
        "de": "<strong>Echt</strong>: vom Register signiert (Schlüssel {key_id}) und seither unverändert.",
    },
    "not_authentic": {
        "en": "<strong>Not authentic</strong>: its signature does not hold. Do not rely on this certificate.",
        "nl": "<strong>Niet echt</strong>: de handtekening klopt niet. Vertrouw niet op dit certificaat.",
        "fr": "<strong>Non authentique</strong> : sa signature n'est pas valable. Ne vous fiez pas à ce "
              "certificat.",
        "de": "<strong>Nicht echt</strong>: die Signatur ist ungültig. Verlassen Sie sich nicht auf dieses "
              "Zertifikat.",
    },
    "valid_today": {
        "en": "valid today",
        "nl": "vandaag geldig",
        "fr": "valable aujourd'hui",
        "de": "heute gültig",
    },
    "no_longer_valid": {
        "en": "no longer valid (or not authentic)",
        "nl": "niet meer geldig (of niet echt)",
        "fr": "plus valable (ou non authentique)",
        "de": "nicht mehr gültig (oder nicht echt)",
    },
    "number_label": {
        "en": "Number",
        "nl": "Nummer",
        "fr": "Numéro",
        "de": "Nummer",
    },
    "issued_on": {
        "en": "Issued on",
        "nl": "Uitgereikt op",
        "fr": "Délivré le",
        "de": "Ausgestellt am",
    },
    "valid_until_label": {
        "en": "Valid until",
        "nl": "Geldig tot",
        "fr": "Valable jusqu'au",
        "de": "Gültig bis",
    },
    "latest_reading": {
        "en": "Latest reading",
        "nl": "Laatste kilometerstand",
        "fr": "Dernier relevé",
        "de": "Letzter Kilometerstand",
    },
    "readings_recorded": {
        "en": "Readings recorded",
        "nl": "Geregistreerde kilometerstanden",
        "fr": "Relevés enregistrés",
        "de": "Erfasste Kilometerstände",
    },
    "public_keys": {
        "en": "The registry's public keys: GET /keys. Offline: <code>carpass verify FILE --keys KEYS</code>.",
        "nl": "De publieke sleutels van het register: GET /keys. Offline: <code>carpass verify FILE --keys "
              "KEYS</code>.",
        "fr": "Les clés publiques du registre : GET /keys. Hors ligne : <code>carpass verify FILE --keys "
              "KEYS</code>.",
        "de": "Die öffentlichen Schlüssel des Registers: GET /keys. Offline: <code>carpass verify FILE "
              "--keys KEYS</code>.",
    },
    # --- the chart
    "no_chart": {
        "en": "No readings: no chart.",
        "nl": "Geen kilometerstanden: geen grafiek.",
        "fr": "Aucun relevé : pas de graphique.",
        "de": "Keine Kilometerstände: kein Diagramm.",
    },
    "chart_label": {
        "en": "Mileage over time",
        "nl": "Kilometerstand in de tijd",
        "fr": "Kilométrage dans le temps",
        "de": "Kilometerstand im Zeitverlauf",
    },
    "counter_wrapped": {
        "en": "counter wrapped (5 digits)",
        "nl": "teller rondgedraaid (5 cijfers)",
        "fr": "compteur revenu à zéro (5 chiffres)",
        "de": "Zähler übergelaufen (5 Stellen)",
    },
    "legend_reading": {
        "en": "reading",
        "nl": "kilometerstand",
        "fr": "relevé",
        "de": "Kilometerstand",
    },
    "legend_anomaly": {
        "en": "reading in an open anomaly",
        "nl": "stand in een openstaande anomalie",
        "fr": "relevé dans une anomalie ouverte",
        "de": "Stand in offener Auffälligkeit",
    },
    "legend_restart": {
        "en": "odometer replaced / counter wrapped",
        "nl": "teller vervangen / rondgedraaid",
        "fr": "compteur remplacé / revenu à zéro",
        "de": "Zähler ersetzt / übergelaufen",
    },
    "miles": {
        "en": "miles",
        "nl": "mijl",
        "fr": "miles",
        "de": "Meilen",
    },
}
"""Key -> language -> text (``str.format`` placeholders)."""

_THOUSANDS = {"en": ",", "nl": ".", "de": ".", "fr": "\u202f"}
_DECIMAL = {"en": ".", "nl": ",", "de": ",", "fr": ","}


def text(language: str, key: str, /, **values: object) -> str:
    """The words of ``key`` in ``language`` (English when the language is not one of :data:`LANGUAGES`)."""
    words = MESSAGES[key]
    template = words.get(language, words[DEFAULT_LANGUAGE])
    return template.format(**values) if values else template


def placeholders(template: str) -> set[str]:
    """The ``{name}`` fields of a template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def count(language: str, value: int) -> str:
    """An integer with the language's thousands separator."""
    return f"{value:,}".replace(",", _THOUSANDS.get(language, ","))


def euros(language: str, cents: int) -> str:
    """An amount in euros with two decimals, ``10,50`` in nl/fr/de, ``10.50`` in en."""
    return f"{count(language, cents // 100)}{_DECIMAL.get(language, '.')}{cents % 100:02d}"


_TAG = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([01](?:\.\d{0,3})?))?\s*$")


def language_of(query: str | None, accept_language: str | None) -> str:
    """The language asked for: ``query`` (``?lang=``) when it is one of ours, else the best of the
    ``Accept-Language`` header that is (``nl-BE``, ``fr;q=0.8``), else English. Anything malformed is
    ignored (a header is the client's, not ours to fail on)."""
    if query is not None and query.lower() in LANGUAGES:
        return query.lower()
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for part in (accept_language or "")[:500].split(",")[:20]:
        match = _TAG.match(part)
        if match is None:
            continue
        primary, q = match.group(1).lower(), float(match.group(2) or 1.0)
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best
