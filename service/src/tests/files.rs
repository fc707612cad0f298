//! Files both ways: a patient's photo reaches the clinician who has the
//! chat without its location, a clinician's PDF reaches the patient without
//! its author; the scanner sees each file as sent and its verdict stands;
//! downloads open only for who may see the chat, and each is audited.
//!
//! The scanner here is the port's test double (it flags the EICAR test
//! string, or cannot be reached); the real clamd is driven by the
//! end-to-end test (`tests/tests/e2e/files.rs`).

use std::sync::Mutex;

use attachments::testing;
use store::{Moderation, Role, SharedFiles};

use super::*;
use crate::ServiceError;
use crate::files::{FileSharing, Limits, Scanner, Verdict};

const EICAR: &[u8] = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE";

/// Flags the EICAR test string, as clamd's signature does; remembers what
/// it was shown. `down`: cannot be reached.
#[derive(Default)]
struct Scripted {
    seen: Mutex<Vec<Vec<u8>>>,
    down: bool,
}

#[async_trait]
impl Scanner for Scripted {
    async fn scan(&self, bytes: &[u8]) -> Result<Verdict, String> {
        if self.down {
            return Err("clamd at /run/clamd.ctl: connection refused".into());
        }
        self.seen.lock().unwrap().push(bytes.to_vec());
        Ok(if bytes.windows(EICAR.len()).any(|w| w == EICAR) {
            Verdict::Infected("Eicar-Test-Signature".into())
        } else {
            Verdict::Clean
        })
    }
}

fn sharing(scanner: Option<Arc<dyn Scanner>>) -> FileSharing {
    FileSharing {
        enabled: true,
        limits: Limits::default(),
        scanner,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn resume(p: &mut Patient) -> String {
    of_type(&p.frames(), "welcome")[0]["resume"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_photo_reaches_the_clinician_without_its_location_and_a_pdf_comes_back_without_its_author()
 {
    let scanner = Arc::new(Scripted::default());
    let shared: Arc<dyn Scanner> = scanner.clone();
    let clinic = Clinic::with(|s| s.with_files(sharing(Some(shared)))).await;
    let bella = clinic.user("Bella", &["nursing"], &["en"]).await;
    let nate = clinic.user("Nate", &["billing"], &["en"]).await;
    let ada = clinic.account("Ada", Role::Admin, &[], &["en"]).await;
    let otto = clinic.account("Otto", Role::Auditor, &[], &["en"]).await;
    let mut p = clinic.patient("en").await;
    let token = resume(&mut p);
    let photo = testing::photo_with_location();

    // While the bot has the chat, a file goes nowhere: refused.
    let early = clinic
        .service
        .patient_file(&token, "Maria_rash.jpg", photo.clone())
        .await;
    assert!(matches!(early, Err(ServiceError::Conflict(_))), "{early:?}");

    p.say("I need a nurse about my rash").await;
    let mut console = clinic.online(&bella).await;
    clinic
        .service
        .take(p.id(), &bella, None, None)
        .await
        .unwrap();
    console.frames();

    let view = clinic
        .service
        .patient_file(&token, "C:\\Photos\\Maria_rash.jpg", photo.clone())
        .await
        .unwrap();
    assert_eq!(view.name, "[NAME] rash.jpg");
    assert_eq!(view.media_type, "image/jpeg");
    // Turned upright: the EXIF orientation was applied before it went.
    assert_eq!((view.width, view.height), (Some(48), Some(64)));
    // The scanner saw the file as sent, before any decoder.
    assert_eq!(*scanner.seen.lock().unwrap(), vec![photo.clone()]);

    // Bella, who has the chat, gets it live.
    let frames = console.frames();
    let live = of_type(&frames, "message");
    assert_eq!(live.len(), 1, "{frames:?}");
    assert_eq!(live[0]["message"]["file"]["id"], view.id);
    assert_eq!(live[0]["message"]["text"], "📎 [NAME] rash.jpg");

    // Stored sealed and stripped: what opens is the cleaned photo.
    let meta = clinic.store.file_meta(view.id).await.unwrap();
    assert!(meta.scanned);
    let stored = clinic.store.file_data(view.id).await.unwrap();
    assert!(contains(&photo, b"Exif") && contains(&photo, b"Jane Roe"));
    assert!(!contains(&stored, b"Exif"), "EXIF kept");
    assert!(
        !contains(&stored, b"Jane Roe"),
        "a name in the metadata kept"
    );
    assert!(!contains(&stored, b"http://ns.adobe.com/xap"), "XMP kept");

    // Who may download: Bella and the admin; Nate only with a reason; an
    // auditor never. Each download is audited, never with the name.
    let got = clinic
        .service
        .staff_download(&bella, view.id, None, None)
        .await
        .unwrap();
    assert_eq!(got.bytes, stored);
    assert_eq!(got.media_type, "image/jpeg");
    assert!(
        clinic
            .service
            .staff_download(&ada, view.id, None, None)
            .await
            .is_ok()
    );
    let refused = clinic
        .service
        .staff_download(&nate, view.id, None, None)
        .await;
    assert!(
        matches!(refused, Err(ServiceError::BreakGlassRequired)),
        "{refused:?}"
    );
    clinic
        .service
        .staff_download(&nate, view.id, Some("covering for Bella today"), None)
        .await
        .unwrap();
    let auditor = clinic
        .service
        .staff_download(&otto, view.id, None, None)
        .await;
    assert!(
        matches!(auditor, Err(ServiceError::Forbidden(_))),
        "{auditor:?}"
    );
    let audit = clinic.store.audit_log(50).await.unwrap();
    let reads: Vec<_> = audit.iter().filter(|e| e.action == "file_read").collect();
    assert_eq!(reads.len(), 3, "{audit:?}");
    assert!(audit.iter().any(|e| e.action == "file_upload"));
    assert!(audit.iter().all(|e| !e.detail.contains("rash")));

    // The conversation as staff read it shows the file on its message.
    let read = clinic
        .service
        .read_conversation(p.id(), &bella, None, None)
        .await
        .unwrap();
    let shown: Vec<_> = read
        .messages
        .iter()
        .filter_map(|m| m.file.clone())
        .collect();
    assert_eq!(shown, vec![view.clone()]);

    // Only the clinician who has the chat sends one back.
    let pdf = testing::pdf_with_metadata();
    let not_theirs = clinic
        .service
        .clinician_file(p.id(), &nate, "aftercare.pdf", pdf.clone())
        .await;
    assert!(
        matches!(not_theirs, Err(ServiceError::Forbidden(_))),
        "{not_theirs:?}"
    );
    p.frames();
    let sent = clinic
        .service
        .clinician_file(p.id(), &bella, "Aftercare.pdf", pdf.clone())
        .await
        .unwrap();
    let file = sent.file.clone().unwrap();
    assert_eq!(
        (file.media_type.as_str(), file.pages),
        ("application/pdf", Some(1))
    );
    let frames = p.frames();
    let to_patient = of_type(&frames, "message");
    assert_eq!(to_patient.len(), 1, "{frames:?}");
    assert_eq!(to_patient[0]["file"]["id"], file.id);
    assert_eq!(to_patient[0]["name"], "Bella");
    let mine = clinic
        .service
        .patient_download(&token, file.id)
        .await
        .unwrap();
    assert!(contains(&pdf, b"Jane Roe"));
    assert!(!contains(&mine.bytes, b"Jane Roe"), "the author kept");
    assert!(mine.bytes.starts_with(b"%PDF"));

    // Another patient's token opens none of it.
    let mut other = clinic.patient("en").await;
    let other_token = resume(&mut other);
    let theirs = clinic.service.patient_download(&other_token, file.id).await;
    assert!(
        matches!(theirs, Err(ServiceError::NotFound(_))),
        "{theirs:?}"
    );
    let forged = clinic
        .service
        .patient_download(&"0".repeat(64), file.id)
        .await;
    assert!(
        matches!(forged, Err(ServiceError::Forbidden(_))),
        "{forged:?}"
    );

    // The patient's history on their return shows both files.
    let mut back = clinic
        .open(OpenRequest {
            resume: Some(token.clone()),
            ..Default::default()
        })
        .await;
    let frames = back.frames();
    let history = of_type(&frames, "history")[0]["messages"]
        .as_array()
        .unwrap();
    let ids: Vec<_> = history
        .iter()
        .filter_map(|m| m["file"]["id"].as_i64())
        .collect();
    assert_eq!(ids, [view.id, file.id]);
}

#[tokio::test]
async fn an_infected_file_is_refused_and_none_is_taken_while_the_scanner_is_down() {
    let scanner = Arc::new(Scripted::default());
    let shared: Arc<dyn Scanner> = scanner.clone();
    let clinic = Clinic::with(|s| s.with_files(sharing(Some(shared)))).await;
    let mut p = clinic.patient("en").await;
    let token = resume(&mut p);
    p.say("I need a nurse").await;

    let infected = clinic
        .service
        .patient_file(&token, "results.pdf", testing::pdf_with_eicar())
        .await;
    assert!(
        matches!(infected, Err(ServiceError::FileInfected)),
        "{infected:?}"
    );
    assert!(clinic.store.files_of(p.id()).await.unwrap().is_empty());
    let audit = clinic.store.audit_log(10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "file_infected" && e.detail.contains("Eicar-Test-Signature")),
        "{audit:?}"
    );

    let down = Clinic::with(|s| {
        s.with_files(sharing(Some(Arc::new(Scripted {
            down: true,
            ..Default::default()
        }))))
    })
    .await;
    let mut p = down.patient("en").await;
    let token = resume(&mut p);
    p.say("I need a nurse").await;
    let refused = down
        .service
        .patient_file(&token, "rash.png", testing::png_with_text())
        .await;
    assert!(
        matches!(refused, Err(ServiceError::ScannerUnavailable)),
        "{refused:?}"
    );
    assert!(down.store.files_of(p.id()).await.unwrap().is_empty());

    // A clinic that turned scanning off takes it, and says so on the file.
    let unscanned = Clinic::with(|s| s.with_files(sharing(None))).await;
    let mut p = unscanned.patient("en").await;
    let token = resume(&mut p);
    p.say("I need a nurse").await;
    let view = unscanned
        .service
        .patient_file(&token, "rash.png", testing::png_with_text())
        .await
        .unwrap();
    assert_eq!(view.media_type, "image/png");
    assert!(!unscanned.store.file_meta(view.id).await.unwrap().scanned);
    let audit = unscanned.store.audit_log(10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "file_upload" && e.detail.contains("not scanned")),
        "{audit:?}"
    );
}

#[tokio::test]
async fn wrong_types_sizes_states_and_tokens_are_refused_plainly() {
    let small = FileSharing {
        enabled: true,
        limits: Limits {
            max_bytes: 4096,
            ..Limits::default()
        },
        scanner: Some(Arc::new(Scripted::default())),
    };
    let clinic = Clinic::with(|s| s.with_files(small)).await;

    // Consent first, as for a message: an emergency is answered and
    // queued before consent, but takes no file until it is given.
    let mut unconsented = clinic.open_unconsented(OpenRequest::default()).await;
    let token = resume(&mut unconsented);
    unconsented
        .session
        .message("I have chest pain")
        .await
        .unwrap();
    let owed = clinic
        .service
        .patient_file(&token, "a.png", testing::png_with_text())
        .await;
    assert!(
        matches!(owed, Err(ServiceError::ConsentRequired)),
        "{owed:?}"
    );

    let mut p = clinic.patient("en").await;
    let token = resume(&mut p);
    p.say("I need a nurse").await;
    // A HEIC photo: named, with what to do.
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic");
    heic.extend_from_slice(&[0; 64]);
    let r = clinic
        .service
        .patient_file(&token, "IMG_1.HEIC", heic)
        .await;
    assert!(
        matches!(&r, Err(ServiceError::FileRefused(m)) if m.contains("HEIC")),
        "{r:?}"
    );
    // A program named like a photo: the content decides.
    let r = clinic
        .service
        .patient_file(&token, "photo.jpg", b"MZ\x90\x00 a program".to_vec())
        .await;
    assert!(matches!(r, Err(ServiceError::FileRefused(_))), "{r:?}");
    // Over the clinic's limit.
    let r = clinic
        .service
        .patient_file(&token, "big.png", vec![0x89; 5000])
        .await;
    assert!(matches!(r, Err(ServiceError::FileTooLarge(_))), "{r:?}");
    // Not a chat's token.
    let r = clinic
        .service
        .patient_file("short", "a.png", testing::png_with_text())
        .await;
    assert!(matches!(r, Err(ServiceError::Forbidden(_))), "{r:?}");
    assert!(clinic.store.files_of(p.id()).await.unwrap().is_empty());

    // At most MAX_FILES_PER_CONVERSATION from the patient.
    for _ in 0..crate::files::MAX_FILES_PER_CONVERSATION {
        clinic
            .service
            .patient_file(&token, "", testing::png_with_text())
            .await
            .unwrap();
    }
    let r = clinic
        .service
        .patient_file(&token, "", testing::png_with_text())
        .await;
    assert!(matches!(r, Err(ServiceError::FileRefused(_))), "{r:?}");
    // A nameless file is named for what it is.
    let files = clinic.store.files_of(p.id()).await.unwrap();
    assert_eq!(files[0].name, "photo.png");

    // A closed chat takes none.
    let bella = clinic.user("Bella", &["nursing"], &["en"]).await;
    clinic
        .service
        .take(p.id(), &bella, None, None)
        .await
        .unwrap();
    clinic.service.close(p.id(), &bella, None).await.unwrap();
    let r = clinic
        .service
        .patient_file(&token, "a.png", testing::png_with_text())
        .await;
    assert!(matches!(r, Err(ServiceError::Conflict(_))), "{r:?}");
}

#[tokio::test]
async fn a_clinic_that_takes_no_files_says_so_in_the_welcome() {
    let clinic = Clinic::new(router::Policy::default()).await;
    let mut p = clinic.patient("en").await;
    let frames = p.frames();
    assert_eq!(of_type(&frames, "welcome")[0]["files"], false);
    let token = of_type(&frames, "welcome")[0]["resume"]
        .as_str()
        .unwrap()
        .to_string();
    p.say("I need a nurse").await;
    let r = clinic
        .service
        .patient_file(&token, "a.png", testing::png_with_text())
        .await;
    assert!(matches!(r, Err(ServiceError::Forbidden(_))), "{r:?}");

    let taking = Clinic::with(|s| s.with_files(sharing(None))).await;
    let mut p = taking.patient("en").await;
    assert_eq!(of_type(&p.frames(), "welcome")[0]["files"], true);
}
