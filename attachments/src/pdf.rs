//! PDFs: rewritten as one revision without their info dictionary, XMP, private application
//! data, scripts or embedded files.

use lopdf::{Dictionary, Document, Object};

use crate::{Cleaned, Kind, Refusal};

/// Keys removed from every dictionary and stream dictionary in the document: XMP metadata,
/// application private data, and additional actions (scripts run when a page opens or a form
/// field changes).
const STRIPPED_EVERYWHERE: [&[u8]; 3] = [b"Metadata", b"PieceInfo", b"AA"];

/// Keys removed from the catalog: the action run when the document opens.
const STRIPPED_FROM_CATALOG: [&[u8]; 1] = [b"OpenAction"];

/// Name trees removed from the catalog's `/Names`: document scripts and attached files.
const STRIPPED_FROM_NAMES: [&[u8]; 2] = [b"JavaScript", b"EmbeddedFiles"];

/// Parses `bytes` as a PDF, refuses it when encrypted or without pages, strips it and saves it
/// as a single revision.
pub(crate) fn clean(bytes: &[u8]) -> Result<Cleaned, Refusal> {
    let unreadable = Refusal::Unreadable { kind: Kind::Pdf };
    let mut document = match Document::load_mem(bytes) {
        Ok(document) => document,
        // An encryption lopdf cannot set up fails the load itself.
        Err(_) if mentions(bytes, b"/Encrypt") => return Err(Refusal::Encrypted),
        Err(_) => return Err(unreadable),
    };
    // A document that opens without a password (an empty user password, only an owner password
    // restricting printing or copying) was decrypted as it loaded: its /Encrypt is gone and it
    // can be checked like any other. One that needs a password keeps its /Encrypt.
    if document.trailer.has(b"Encrypt") || document.is_encrypted() {
        return Err(Refusal::Encrypted);
    }
    let pages = u32::try_from(document.get_pages().len()).map_err(|_| unreadable.clone())?;
    if pages == 0 {
        return Err(unreadable);
    }

    strip(&mut document);
    document.prune_objects();
    // The trailer's /Size is one more than the highest object number still there.
    document.max_id = document.objects.keys().next_back().map_or(0, |&(id, _)| id);
    let mut out = Vec::new();
    document.save_to(&mut out).map_err(|_| unreadable)?;
    Ok(Cleaned {
        kind: Kind::Pdf,
        bytes: out,
        dimensions: None,
        pages: Some(pages),
    })
}

/// Removes the metadata, scripts and embedded files from `document` (see the crate
/// documentation); the objects left unreferenced are pruned afterwards.
fn strip(document: &mut Document) {
    document.trailer.remove(b"Info");

    // The catalog's /Names is a dictionary of its own or in the catalog.
    let names = document
        .catalog()
        .ok()
        .and_then(|catalog| catalog.get(b"Names").ok())
        .and_then(|names| names.as_reference().ok());
    if let Some(names) = names.and_then(|id| document.get_dictionary_mut(id).ok()) {
        remove(names, &STRIPPED_FROM_NAMES);
    }
    if let Ok(catalog) = document.catalog_mut() {
        remove(catalog, &STRIPPED_FROM_CATALOG);
        if let Ok(Object::Dictionary(names)) = catalog.get_mut(b"Names") {
            remove(names, &STRIPPED_FROM_NAMES);
        }
    }

    // XMP streams referred to under another key than /Metadata go too (a reference to a
    // missing object reads as null).
    document.objects.retain(|_, object| !is_xmp(object));

    // Every dictionary, however deeply nested in direct objects. A stack rather than recursion,
    // so a hostile nesting depth cannot overflow the thread's stack.
    let mut pending: Vec<&mut Object> = document.objects.values_mut().collect();
    pending.extend(document.trailer.iter_mut().map(|(_, value)| value));
    while let Some(object) = pending.pop() {
        let dictionary = match object {
            Object::Dictionary(dictionary) => dictionary,
            Object::Stream(stream) => &mut stream.dict,
            Object::Array(items) => {
                pending.extend(items.iter_mut());
                continue;
            }
            _ => continue,
        };
        remove(dictionary, &STRIPPED_EVERYWHERE);
        pending.extend(dictionary.iter_mut().map(|(_, value)| value));
    }
}

/// Removes `keys` from `dictionary`.
fn remove(dictionary: &mut Dictionary, keys: &[&[u8]]) {
    for key in keys {
        dictionary.remove(key);
    }
}

/// Whether `object` is an XMP metadata stream (`/Type /Metadata`).
fn is_xmp(object: &Object) -> bool {
    matches!(object, Object::Stream(stream) if stream.dict.has_type(b"Metadata"))
}

/// Whether `needle` occurs in `haystack`.
fn mentions(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
