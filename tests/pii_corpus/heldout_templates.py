"""Held-out snippets, written after the scanner was tuned on templates.py and not used for
tuning: free-form phrasing and formats the main corpus does not contain. Reported separately by
tests/pii_quality.rs (printed, with sanity floors only). Part of auditgate, Apache-2.0.
"""

TEMPLATES = [
    ("de", "email", 1, "Von: [[PERSON|Beat Zgraggen]] <{EMAIL}>\nAn: Buchhaltung\nBetreff: Spesen März\n\nHallo zusammen, anbei meine Spesen. Bei Fragen bin ich auf dem Natel {PHONE} erreichbar.\nGruss [[PERSON|Beat]]"),
    ("de", "letter", 1, "Familie [[PERSON|Odermatt]]\n[[LOCATION|Bahnhofstr. 5\n6370 Stans]]\n\nSehr geehrte Familie [[PERSON|Odermatt]]\nIhre Prämienverbilligung wurde bewilligt."),
    ("de", "note", 1, "Geburtsdatum: {BIRTH}; Zivilstand: verheiratet; Konfession: reformiert."),
    ("de", "chat", 1, "Kannst du prüfen ob die IBAN {IBAN} zur Postfinance gehört? Der Kontoinhaber ist [[PERSON|Mirjam Häfliger-Tschopp]]."),
    ("de", "note", 1, "Gemäss Art. 9 DSG und SR 235.1 sind die Daten zu schützen. Postfach 1234, ISO 27001 zertifiziert."),
    ("de", "email", 1, "Grüezi Frau [[PERSON|Inauen]]\n\nIhre Steuererklärung 2023 ist eingereicht (Referenz 2023-ZH-88123). Die Rückzahlung von CHF 2'340.55 erfolgt auf Ihr Konto.\n\nFreundliche Grüsse\n[[PERSON|Luzia Gisler]]\nTreuhand Gisler GmbH"),
    ("de", "chat", 1, "Erstelle eine Vollmacht für [[PERSON|Cyrill Ruckstuhl]] (AHV-Nr. {AHV}), wohnhaft [[LOCATION|Dorfstrasse 3, 8634 Hombrechtikon]]."),
    ("de", "note", 1, "Rückruf bitte an [[PHONE_NUMBER|+41-44-668-18-00]] oder an die Zentrale."),
    ("de", "note", 1, "Server-Wartung: 10.0.0.0/8 und 172.16.0.0/12 sind intern, Gateway [[IP_ADDRESS|192.168.10.1]] bleibt erreichbar."),
    ("de", "chat", 1, "Der Kunde zahlte mit Mastercard {CARD} am 3. Mai; die Bestellnummer lautet 4500123987."),
    ("fr", "email", 1, "De : [[PERSON|Séverine Mottier]] <{EMAIL}>\nObjet : changement d'adresse\n\nBonjour, ma nouvelle adresse est [[LOCATION|Chemin des Pâquerettes 14, 1860 Aigle]]. Merci de mettre à jour mon dossier.\n\n[[PERSON|Séverine]]"),
    ("fr", "note", 1, "Date de naissance : {BIRTH}. Nationalité : suisse. Permis C."),
    ("fr", "chat", 1, "Peux-tu vérifier ce numéro de sécu : {NIR} ? C'est pour Mme [[PERSON|Crettenand]]."),
    ("fr", "letter", 1, "Maître,\n\nVeuillez trouver ci-joint le dossier de M. [[PERSON|Ludovic Rappaz]], domicilié [[LOCATION|Avenue de la Gare 22, 1950 Sion]], ainsi que la copie de son passeport {PASSPORT}."),
    ("fr", "note", 1, "Facture n° F-2024-0099 du 15.02.2024, montant TTC 1 234,50 €, échéance 30 jours."),
    ("fr", "email", 1, "Salut [[PERSON|Noémie]] !\nTu peux m'appeler au {PHONE} ce soir ?\nBises"),
    ("it", "email", 1, "Da: [[PERSON|Damiano Quadri]] <{EMAIL}>\n\nBuongiorno, vi comunico il mio nuovo indirizzo: [[LOCATION|Via San Gottardo 12, 6900 Lugano]]. Il mio numero AVS è {AHV}.\n\nCordiali saluti\n[[PERSON|Damiano Quadri]]"),
    ("it", "note", 1, "Data di nascita: {BIRTH}. Codice fiscale: {CF}."),
    ("it", "chat", 1, "Scrivi una email al dott. [[PERSON|Lepori]] per fissare un appuntamento martedì alle 14:00."),
    ("it", "note", 1, "Fattura 2024/118 del 12.01.2024 - totale CHF 5'600.00 - IVA 8.1%."),
    ("it", "letter", 1, "Egregio avvocato [[PERSON|Fontanella]],\nla signora [[PERSON|Graziella Cavadini]] ci ha incaricato di rappresentarla. Il suo IBAN è {IBAN}."),
    ("en", "email", 1, "From: [[PERSON|Siobhan Ashworth]] <{EMAIL}>\n\nHi team, my new mobile is {PHONE}. Please update the client list.\n\n[[PERSON|Siobhan]]"),
    ("en", "note", 1, "DOB: {BIRTH}. NI number: {NINO}. NHS no. {NHS}."),
    ("en", "chat", 1, "Is {SSN} a valid SSN format? The applicant is [[PERSON|Aidan Fitzgerald]]."),
    ("en", "note", 1, "Python 3.11.7, numpy 1.26.4, CUDA 12.1; build 2024.03.15; checksum 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08."),
    ("en", "chat", 1, "Please summarise: Mr [[PERSON|O'Brien]] lives at [[LOCATION|221B Baker Street]] and pays by card {CARD}."),
    ("en", "note", 1, "Meeting on 12/03/2025 at 10:30 in room 4.12; dial-in code 4411 2233."),
    ("en", "email", 1, "Dear [[PERSON|Ottilia]],\n\nthanks for the quick reply. Our VAT number is {VAT} and the Swiss UID {UID}.\n\nBest wishes,\n[[PERSON|Fadri Niederberger]]"),
    ("en", "chat", 1, "The log shows a login from {IP} for user id 88231 at 02:14 UTC."),
    ("de", "chat", 1, "Bitte anonymisiere: [[PERSON|Jolanda Bourquin]], geb. {BIRTH}, Steuer-IdNr. {DETAX}, wohnt in [[LOCATION|10115 Berlin]]."),
]
