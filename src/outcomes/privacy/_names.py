"""Column-name rules: which column names stand for one of the Safe Harbor identifiers.

A name is first normalised (:func:`normalise_name`): Unicode NFKC (full-width letters become
ASCII), format characters such as zero-width spaces removed, camelCase split, lower case, every
run of other characters one ``_``, and dotted or spaced initials joined (``M.R.N.`` -> ``mrn``).
The rules then match whole words of that name, so ``cell_type``, ``mobile_unit`` and
``site_tel_aviv`` are not telephone numbers and ``sin`` is not a social security number.

The rules are regular expressions over a name of at most :data:`MAX_NAME` characters with no
nested repetition, so each takes time linear in the name.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_NAME = 256  # longer column names are cut before the rules run (a name is not a cell)


def normalise_name(name: object) -> str:
    """A column name reduced to lower-case words joined by ``_``.

    Examples
    --------
    >>> [normalise_name(n) for n in ["DateOfBirth", "M.R.N.", "\\uff2d\\uff32\\uff2e", "M\\u200bRN", "Age at surgery"]]
    ['date_of_birth', 'mrn', 'mrn', 'mrn', 'age_at_surgery']
    """
    text = unicodedata.normalize("NFKC", str(name)[:MAX_NAME])
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)          # birthDt -> birth_Dt
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)       # MRNNumber -> MRN_Number
    words = [w for w in re.split(r"[^0-9a-z]+", text.lower()) if w]
    joined: list[str] = []
    run: list[str] = []  # single letters in a row are initials: m_r_n -> mrn, d_o_b -> dob
    for word in [*words, ""]:
        if len(word) == 1 and word.isalpha():
            run.append(word)
            continue
        if run:
            joined.extend(["".join(run)] if len(run) > 1 else run)
            run = []
        if word:
            joined.append(word)
    return "_".join(joined)


@dataclass(frozen=True, slots=True)
class NameRule:
    """One column-name rule: ``pattern`` matches the normalised name; ``what`` says what it is."""

    category: str
    what: str
    pattern: re.Pattern[str]

    def matches(self, normalised: str) -> bool:
        return self.pattern.search(normalised) is not None


def _words(*alternatives: str) -> str:
    """Alternatives matched as whole words of a normalised name; ``_`` inside means "optional _"."""
    body = "|".join(a.replace("_", "_?") for a in alternatives)
    return rf"(?:^|_)(?:{body})(?:$|_)"


_NUMBER = "(?:number|numbers|num|nr|no|nbr|hash)"
_PERSON = "(?:patient|pt|person|subject|client|member|guardian|relative|mother|father|spouse|kin|contact)"

_RULES: list[tuple[str, str, str]] = [
    # (A) names of the individual, relatives, household members; and of staff named beside them
    ("A", "a person's name", _words(
        "full_name", "first_name", "last_name", "given_name", "family_name", "middle_name", "maiden_name",
        "surname", "forename", "fore_name", "firstname", "lastname", "nachname", "vorname", "nom_de_famille",
        "prenom", "apellido", "initials", "next_of_kin", "nok")),
    ("A", "a person's name", rf"(?:^|_){_PERSON}_?(?:full_?)?names?(?:$|_)"),
    ("A", "a person's name", r"^(?:pt|patient|patients|patient_full|person|client|subject)$"),
    ("A", "a person's name", r"(?:^|_)(?:surgeon|physician|doctor|dr|provider|nurse|operator|referrer|"
                             r"referring_physician|attending|gp)_?names?(?:$|_)"),
    # (C) dates (except year) directly related to the individual
    ("C", "a birth date", _words("dob", "birth_date", "birth_dt", "birthdate", "birth_day", "birthday", "bdate",
                                 "b_date", "date_of_birth", "dt_of_birth", "dateofbirth", "born_on", "born_date",
                                 "geburtsdatum", "geb_datum", "date_de_naissance", "fecha_de_nacimiento",
                                 "fecha_nacimiento", "birth_timestamp", "birth_datetime")),
    ("C", "an admission date", r"(?:^|_)(?:admission|admit|admitted|adm|aufnahme)_?(?:date|dt|datetime|time|"
                               r"timestamp|on|at|datum|day)(?:$|_)|(?:^|_)date_?of_?admission(?:$|_)"),
    ("C", "a discharge date", r"(?:^|_)(?:discharge|discharged|disch|dc|entlassung)_?(?:date|dt|datetime|"
                              r"timestamp|on|at|datum|day)(?:$|_)|(?:^|_)date_?of_?discharge(?:$|_)"),
    ("C", "a date of death", r"(?:^|_)(?:death|died|deceased|expired|sterbe)_?(?:date|dt|datetime|timestamp|"
                             r"on|at|datum|day)(?:$|_)|(?:^|_)(?:date_?of_?death|dod)(?:$|_)"),
    # (D) telephone numbers; (E) fax numbers
    ("D", "a telephone number", rf"(?:^|_)(?:phone|phones|telephone|telefon|telefono|telephone_number|"
                                rf"phone_number|phonenumber|cellphone|cell_phone|mobile_phone|mobilephone|"
                                rf"handy|whatsapp)(?:$|_)"),
    ("D", "a telephone number", rf"(?:^|_)(?:tel|mobile|cell|contact)_?{_NUMBER}(?:$|_)|(?:^|_)tel$|"
                                rf"(?:^|_)(?:home|work|pt|patient|daytime|evening)_(?:tel|mobile|cell)$|^mobile$"),
    ("E", "a fax number", _words("fax", "fax_number", "telefax", "faxnumber")),
    # (F) e-mail addresses
    ("F", "an e-mail address", _words("email", "e_mail", "emails", "email_address", "emailaddress", "mail_address",
                                      "courriel", "correo")),
    ("F", "an e-mail address", r"^mail$"),
    # (G) social security numbers
    ("G", "a social security number", _words("ssn", "ssns", "ss_number", "ss_no", "social_security",
                                             "social_security_number", "socialsecuritynumber", "socsec",
                                             "soc_sec", "soc_sec_no", "ssnum")),
    # (H) medical record numbers
    ("H", "a medical record number", _words(
        "mrn", "mrns", "medical_record", "medical_record_number", "medicalrecordnumber", "med_rec", "med_rec_no",
        "medrec", "record_number", "record_no", "chart_number", "chart_no", "hospital_number", "hospital_no",
        "hosp_no", "hosp_number", "hospital_id", "empi", "mpi", "emr_id", "ehr_id", "unit_number",
        "patient_number", "krankenaktennummer", "fallnummer")),
    # (I) health plan beneficiary numbers
    ("I", "a health plan beneficiary number", _words(
        "health_plan", "health_plan_id", "insurance_id", "insurance_number", "insurance_no",
        "member_id", "member_number", "beneficiary", "beneficiary_id", "subscriber_id", "policy_number",
        "policy_no", "medicaid_id", "medicaid_number", "medicaid_no", "medicare_id", "medicare_number", "medicare_no",
        "hicn", "mbi", "versichertennummer", "group_number")),
    # (J) account numbers
    ("J", "an account number", _words(
        "account", "accounts", "account_number", "account_no", "acct", "acct_no", "acct_num", "acct_number",
        "acc_no", "encounter_number", "encounter_no", "encounter_num", "enc_no", "visit_number", "visit_no",
        "billing_number", "billing_no", "billing_id", "invoice_number", "fin", "fin_number", "csn", "har",
        "iban", "bank_account", "credit_card", "card_number")),
    # (L) vehicle identifiers and license plates (before K: "license_plate" is not a licence)
    ("L", "a vehicle identifier or plate number", _words(
        "license_plate", "licence_plate", "plate_number", "plate_no", "number_plate", "registration_plate",
        "vehicle_id", "vehicle_number", "vin", "kennzeichen", "car_registration")),
    # (K) certificate or license numbers
    ("K", "a certificate or licence number", _words(
        "license", "licence", "license_number", "licence_number", "license_no", "licence_no", "drivers_license",
        "driver_license", "driving_licence", "dl_number", "dl_no", "certificate_number", "certificate_no",
        "cert_no", "cert_number", "passport", "passport_number", "passport_no")),
    # (M) device identifiers and serial numbers
    ("M", "a device identifier or serial number", _words(
        "serial", "serial_number", "serial_no", "serialnumber", "serial_num", "device_serial", "device_id",
        "device_identifier", "udi", "udi_di", "implant_serial", "imei", "mac_address", "seriennummer")),
    # (N) web URLs; (O) IP addresses
    ("N", "a web URL", _words("url", "urls", "website", "web_address", "homepage", "web_page", "profile_url")),
    ("O", "an IP address", _words("ip", "ip_address", "ipaddress", "ip_addr", "ipv4", "ipv6", "client_ip",
                                  "remote_addr", "host_ip")),
    # (P) biometric identifiers; (Q) full-face photographs
    ("P", "a biometric identifier", _words("fingerprint", "fingerprints", "finger_print", "voiceprint",
                                           "voice_print", "retina_scan", "iris_scan", "biometric", "biometrics",
                                           "face_template")),
    ("Q", "a photograph", _words("photo", "photos", "photograph", "face_photo", "face_image", "headshot",
                                 "portrait", "picture", "selfie")),
    # (B) geographic subdivisions smaller than a state (after the rules for IP, e-mail and web
    # "addresses", which are more specific)
    ("B", "a street address", _words("address", "addresses", "addr", "street", "street_address", "address_line",
                                     "house_number", "strasse", "adresse", "direccion", "domicile")),
    ("B", "a town, city or county", r"^(?:city|town|county|village|precinct|municipality|ort|wohnort|"
                                    r"home_city|patient_city|pt_city)$"),
    ("B", "a postal code", _words("zip", "zip5", "zip4", "zip_code", "zipcode", "zip_plus_4", "postcode",
                                  "post_code", "postal_code", "postalcode", "plz", "postleitzahl", "code_postal")),
    ("B", "a geocode", _words("latitude", "longitude", "lat_long", "latlong", "geocode", "geo_location",
                              "coordinates", "census_tract", "census_block")),
    # (R) any other unique identifying number
    ("R", "a national identity number", _words(
        "national_id", "national_identity", "national_insurance_number", "ni_number", "nino", "nhs_number",
        "nhs_no", "chi_number", "social_insurance_number", "sin_number", "personnummer", "bsn", "aadhaar",
        "tax_id", "tin", "steuer_id", "steuernummer", "employee_id", "employee_number", "student_id")),
]

NAME_RULES: tuple[NameRule, ...] = tuple(NameRule(c, w, re.compile(p)) for c, w, p in _RULES)

#: Names of free-text columns (refused unless the analysis uses them: "minimum necessary").
FREE_TEXT = re.compile(_words(
    "note", "notes", "comment", "comments", "remark", "remarks", "free_text", "freetext", "narrative",
    "description", "memo", "clinical_notes", "progress_notes", "annotation", "annotations", "report_text", "bemerkung", "bemerkungen", "kommentar", "notiz", "commentaire",
    "remarque", "observaciones", "comentario"))

#: A bare "name" column: refused only when its values look like people's names.
BARE_NAME = re.compile(r"^(?:name|names|nom|nombre|naam|name_\d+)$")

#: Columns whose values are codes (lot, batch, catalogue numbers): no telephone or ZIP rule.
CODE_COLUMN = re.compile(_words("lot", "lot_number", "lot_no", "batch", "batch_number", "batch_no", "catalog",
                                "catalogue", "cat_no", "ref", "reference", "sku", "gtin", "model", "code", "codes",
                                "cpt", "icd", "kit", "charge", "charge_number", "charge_no", "lot_id", "version"))

#: Age columns: values over 89 are refused (Safe Harbor C) unless shown as 90.
_AGE = re.compile(r"(?:^|_)(?:age|ages|alter|edad|age_years|ageyears|ageatsurgery)(?:$|_)")
_NOT_AGE = re.compile(r"(?:^|_)(?:fracture|fx|days?|weeks?|wks?|months?|mos?|hours?|hrs?|d|w|h|group|band|"
                      r"category|cat|range|class|at_fracture_days)(?:$|_)")

#: Date columns of the data contract: kept (they make the data a limited data set, see data_class).
CONTRACT_DATES = frozenset({"procedure_date", "fracture_date", "assessed_at", "event_date", "last_contact_date"})


def name_rule(name: object) -> NameRule | None:
    """The first rule a column name matches, or None.

    Examples
    --------
    >>> name_rule("MedicalRecordNumber").category, name_rule("Pt").category, name_rule("plz").category
    ('H', 'A', 'B')
    >>> [name_rule(n) for n in ["cell_type", "mobile_unit", "site_tel_aviv", "sin", "year_born", "cement_lot"]]
    [None, None, None, None, None, None]
    """
    normalised = normalise_name(name)
    for rule in NAME_RULES:
        if rule.matches(normalised):
            return rule
    return None


def is_age_column(name: object) -> bool:
    """Whether a column holds people's ages (``age``, ``pt_age``, ``Age at surgery``; not ``fracture_age_days``).

    >>> [is_age_column(n) for n in ["age", "pt_age", "Age at surgery", "fracture_age_days", "stage"]]
    [True, True, True, False, False]
    """
    normalised = normalise_name(name)
    return bool(_AGE.search(normalised)) and not _NOT_AGE.search(normalised)


def is_free_text(name: object) -> bool:
    """Whether a column name says free text (notes, comments, remarks, ...)."""
    return FREE_TEXT.search(normalise_name(name)) is not None


def is_bare_name(name: object) -> bool:
    """Whether a column is called just "name" (its values decide: see ``looks_like_person_names``)."""
    return BARE_NAME.match(normalise_name(name)) is not None


def is_code_column(name: object) -> bool:
    """Whether a column name says its values are codes (lot, batch, catalogue or reference numbers)."""
    return CODE_COLUMN.search(normalise_name(name)) is not None
