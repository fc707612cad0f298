# Builds redaction/testdata/zip_names.json (presidio-research format) from
# hand-written chat lines with (entity_type, value) labels; each value is
# found left to right in its text. A blind set: written before the redactor
# was run on it, scored once, never tuned on. STATE is not a HIPAA type
# (Safe Harbor keeps states): labelled so that redacting it is no error.
#   python3 lab/dev/make_zip_names.py > redaction/testdata/zip_names.json
import json, sys
P, Z, L, A, S = "PERSON", "ZIP_CODE", "LOCATION", "ADDRESS", "STATE"
rows = [
 # ZIP codes
 ("hi, what's your zip? mine is 02139", [(Z, "02139")]),
 ("zip 02139", [(Z, "02139")]),
 ("Springfield, IL 62704", [(L, "Springfield"), (S, "IL"), (Z, "62704")]),
 ("postal code 90210-1234", [(Z, "90210-1234")]),
 ("I'm in 33101", [(Z, "33101")]),
 ("do you take patients from 60614? we just moved", [(Z, "60614")]),
 ("my zip's 78701", [(Z, "78701")]),
 ("i live in austin tx 78704 is that close", [(L, "austin"), (S, "tx"), (Z, "78704")]),
 ("Portland, Oregon 97201", [(L, "Portland"), (S, "Oregon"), (Z, "97201")]),
 ("we are in Reno NV, 89501", [(L, "Reno"), (S, "NV"), (Z, "89501")]),
 ("12 Elm St Apt 3, Dover 03820", [(A, "12 Elm St Apt 3, Dover 03820")]),
 ("ZIP: 60614-2231", [(Z, "60614-2231")]),
 ("mi código postal es 10453", [(Z, "10453")]),
 ("the zip is 07030 not 07031, sorry typo", [(Z, "07030"), (Z, "07031")]),
 ("is there an office near 85004", [(Z, "85004")]),
 ("we're in the 30301 area", [(Z, "30301")]),
 ("New address: 455 Birch Lane, Boulder CO 80302", [(A, "455 Birch Lane, Boulder CO 80302")]),
 ("Mailing: PO Box 218, Tupelo, MS 38802-0218", [(A, "PO Box 218, Tupelo, MS 38802-0218")]),
 ("send it to 88 Harbor View Rd\nCamden, ME 04843", [(A, "88 Harbor View Rd\nCamden, ME 04843")]),
 ("Can the bill go to my zip code 11201?", [(Z, "11201")]),
 ("zipcode 94110", [(Z, "94110")]),
 ("my postcode is 19104", [(Z, "19104")]),
 ("im in 48201 detroit", [(Z, "48201"), (L, "detroit")]),
 ("i live at 77 pine st, 01002", [(A, "77 pine st, 01002")]),
 ("Houston, Texas 77030 - is that your service area?", [(L, "Houston"), (S, "Texas"), (Z, "77030")]),
 ("moving to Madison WI 53703 next month", [(L, "Madison"), (S, "WI"), (Z, "53703")]),
 ("our zip code changed to 29401", [(Z, "29401")]),
 ("Billing zip 10027", [(Z, "10027")]),
 ("Atlanta GA 30309", [(L, "Atlanta"), (S, "GA"), (Z, "30309")]),
 ("zip code: 98101-3245, Seattle", [(Z, "98101-3245"), (L, "Seattle")]),
 ("Do you have a clinic in 20002 or nearby?", [(Z, "20002")]),
 ("Is 55401 in your network area", [(Z, "55401")]),
 ("my address is 3021 Oak Ridge Dr, Columbus, OH 43215", [(A, "3021 Oak Ridge Dr, Columbus, OH 43215")]),
 ("pharmacy is the one in 73301", [(Z, "73301")]),
 ("Santa Fe, NM 87501-2211", [(L, "Santa Fe"), (S, "NM"), (Z, "87501-2211")]),
 ("I live in Provo, UT 84601", [(L, "Provo"), (S, "UT"), (Z, "84601")]),
 ("zip=32801", [(Z, "32801")]),
 ("cod postal 00927 san juan", [(Z, "00927"), (L, "san juan")]),
 ("Rochester MN 55905 is where I'm staying", [(L, "Rochester"), (S, "MN"), (Z, "55905")]),
 ("the address on file should be 9 Wren Ct, Newark, DE 19711", [(A, "9 Wren Ct, Newark, DE 19711")]),
 # Names
 ("my name is rosa delgado-ruiz", [(P, "rosa delgado-ruiz")]),
 ("Hi this is Siobhan O'Connell, I need to reschedule", [(P, "Siobhan O'Connell")]),
 ("Mr. Nakamura-Smith has an appointment today", [(P, "Nakamura-Smith")]),
 ("Thabo and Nomvula Dlamini are both patients here", [(P, "Thabo"), (P, "Nomvula Dlamini")]),
 ("can I speak with Priyanka please", [(P, "Priyanka")]),
 ("hey it's jake again", [(P, "jake")]),
 ("me llamo jorge ramírez", [(P, "jorge ramírez")]),
 ("hola soy ana, tengo una cita", [(P, "ana")]),
 ("I saw Dr Ngozi Adeyemi last week", [(P, "Ngozi Adeyemi")]),
 ("Kwabena Mensah called about his refill", [(P, "Kwabena Mensah")]),
 ("please tell Haruto the results are in", [(P, "Haruto")]),
 ("my wife Ingrid Solberg will bring our son", [(P, "Ingrid Solberg")]),
 ("hi this is kevin", [(P, "kevin")]),
 ("my son's name is Aarav and he is 6", [(P, "Aarav")]),
 ("Rachel and Tomasz both need flu shots", [(P, "Rachel"), (P, "Tomasz")]),
 ("appointment for Lupe Fuentes at 3", [(P, "Lupe Fuentes")]),
 ("D'Angelo Brooks, DOB on file", [(P, "D'Angelo Brooks")]),
 ("Marie-Claire Dubois here, calling for my mother", [(P, "Marie-Claire Dubois")]),
 ("Bjørn Haugen needs a copy of his x-rays", [(P, "Bjørn Haugen")]),
 ("can Ms. McAllister call me back", [(P, "McAllister")]),
 ("signed, Fatima Al-Sayed", [(P, "Fatima Al-Sayed")]),
 ("My daughter Zeynep has a fever", [(P, "Zeynep")]),
 ("is Dr. Oyelaran-Whitfield in on Friday", [(P, "Oyelaran-Whitfield")]),
 ("patient: Teodora Vasquez-Lind", [(P, "Teodora Vasquez-Lind")]),
 ("I'm Chidi, Amaka's husband", [(P, "Chidi"), (P, "Amaka")]),
 ("my name is Thi Thu Trang Nguyen", [(P, "Thi Thu Trang Nguyen")]),
 ("Please ask Mrs. Kowalczyk to bring her inhaler", [(P, "Kowalczyk")]),
 ("hi its my mom, Dolores Fitzpatrick, she fell", [(P, "Dolores Fitzpatrick")]),
 ("Hello, Ahmed Khalil checking in", [(P, "Ahmed Khalil")]),
 ("can Svetlana Ivanova get a sooner slot", [(P, "Svetlana Ivanova")]),
 ("Brendan O'Shaughnessy, new patient", [(P, "Brendan O'Shaughnessy")]),
 ("my husband Ravi Subramanian has chest pain", [(P, "Ravi Subramanian")]),
 ("the referral is for Jean-Luc Moreau", [(P, "Jean-Luc Moreau")]),
 ("My grandson Mateo Quispe needs a checkup", [(P, "Mateo Quispe")]),
 ("i am lakshmi and i have a question", [(P, "lakshmi")]),
 ("Esperanza Villanueva y Gómez is my mother", [(P, "Esperanza Villanueva y Gómez")]),
 ("this is Nkechi from apartment 4", [(P, "Nkechi")]),
 ("Wanjiru Kamau and her son Otieno", [(P, "Wanjiru Kamau"), (P, "Otieno")]),
 ("thanks, Gwendolyn", [(P, "Gwendolyn")]),
 ("I brought Ayesha and Imran for their shots", [(P, "Ayesha"), (P, "Imran")]),
 # Negatives: numbers and words that are neither ZIPs nor names
 ("my room number is 12345 at the hospital", []),
 ("I take 5 mg twice a day", []),
 ("my deductible is 10000 dollars", []),
 ("I walked 12034 steps yesterday", []),
 ("platelet count was 150000", []),
 ("we moved here in 2019", []),
 ("the bill said $14250 but insurance paid most", []),
 ("vitamin D 50000 IU weekly", []),
 ("Will you be open on Saturday?", []),
 ("I hope my appointment is still on", []),
 ("BP was 142/91 this morning", []),
 ("take 2 tablets every 6 hours", []),
 ("it's been 3 weeks since the surgery", []),
 ("Can I get a refill of my lisinopril 20 mg", []),
 ("white count 11000 last time", []),
 ("I paid 25000 already for the implants", []),
]
out = []
for text, labels in rows:
    spans, at = [], {}
    for t, v in labels:
        b = text.find(v, at.get(v, 0))
        assert b >= 0, (text, v)
        at[v] = b + len(v)
        s = len(text[:b])
        spans.append({"entity_type": t, "entity_value": v, "start_position": s, "end_position": s + len(v)})
    out.append({"full_text": text, "spans": spans})
json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
print()
