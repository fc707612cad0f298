//! Just enough of sentencepiece's `ModelProto` to rebuild its tokenizer.
//!
//! OPUS-MT directories ship `source.spm` and `target.spm`, serialized
//! protobufs. Rather than pull in a protobuf crate for four fields, this
//! reads the wire format directly:
//!
//! ```text
//! ModelProto     { 1: repeated SentencePiece pieces, 2: TrainerSpec, 3: NormalizerSpec }
//! SentencePiece  { 1: string piece, 2: float score, 3: Type type (NORMAL = 1) }
//! TrainerSpec    { 3: ModelType model_type (UNIGRAM = 1) }
//! NormalizerSpec { 1: string name, 2: bytes precompiled_charsmap,
//!                  3: bool add_dummy_prefix (true), 4: bool remove_extra_whitespaces (true) }
//! ```
//!
//! Every other field is skipped by its wire type. The wire format itself is
//! the `protowire` crate's, shared with the ONNX reader that converts the
//! PII model.

use protowire::{FIXED32, LEN, Reader, VARINT};

/// What a piece is for, as sentencepiece types it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PieceKind {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl PieceKind {
    fn from_proto(value: u64) -> PieceKind {
        match value {
            2 => PieceKind::Unknown,
            3 => PieceKind::Control,
            4 => PieceKind::UserDefined,
            5 => PieceKind::Unused,
            6 => PieceKind::Byte,
            _ => PieceKind::Normal,
        }
    }
}

/// One vocabulary entry.
#[derive(Debug, Clone)]
pub(crate) struct Piece {
    pub piece: String,
    pub score: f32,
    pub kind: PieceKind,
}

/// The parts of a sentencepiece model a tokenizer needs.
#[derive(Debug, Clone)]
pub(crate) struct SpmModel {
    pub pieces: Vec<Piece>,
    /// 1 = unigram, 2 = BPE, 3 = word, 4 = char.
    pub model_type: u64,
    pub precompiled_charsmap: Vec<u8>,
    pub add_dummy_prefix: bool,
    pub remove_extra_whitespaces: bool,
}

/// Parses a serialized `ModelProto`.
pub(crate) fn parse(bytes: &[u8]) -> Result<SpmModel, String> {
    let mut model = SpmModel {
        pieces: Vec::new(),
        model_type: 1,
        precompiled_charsmap: Vec::new(),
        add_dummy_prefix: true,
        remove_extra_whitespaces: true,
    };
    let mut r = Reader::new(bytes);
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, LEN) => model.pieces.push(parse_piece(r.bytes()?)?),
            (2, LEN) => {
                let mut t = Reader::new(r.bytes()?);
                while let Some((field, wire)) = t.key()? {
                    match (field, wire) {
                        (3, VARINT) => model.model_type = t.varint()?,
                        _ => t.skip(wire)?,
                    }
                }
            }
            (3, LEN) => {
                let mut n = Reader::new(r.bytes()?);
                while let Some((field, wire)) = n.key()? {
                    match (field, wire) {
                        (2, LEN) => model.precompiled_charsmap = n.bytes()?.to_vec(),
                        (3, VARINT) => model.add_dummy_prefix = n.varint()? != 0,
                        (4, VARINT) => model.remove_extra_whitespaces = n.varint()? != 0,
                        _ => n.skip(wire)?,
                    }
                }
            }
            _ => r.skip(wire)?,
        }
    }
    if model.pieces.is_empty() {
        return Err("no pieces: not a sentencepiece model".into());
    }
    Ok(model)
}

fn parse_piece(bytes: &[u8]) -> Result<Piece, String> {
    let mut piece = Piece {
        piece: String::new(),
        score: 0.0,
        kind: PieceKind::Normal,
    };
    let mut r = Reader::new(bytes);
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, LEN) => {
                piece.piece = String::from_utf8(r.bytes()?.to_vec())
                    .map_err(|_| "a piece is not UTF-8".to_string())?
            }
            (2, FIXED32) => piece.score = f32::from_le_bytes(r.fixed32()?),
            (3, VARINT) => piece.kind = PieceKind::from_proto(r.varint()?),
            _ => r.skip(wire)?,
        }
    }
    Ok(piece)
}

#[cfg(test)]
mod tests {
    use super::*;

    use protowire::write::len_field;

    #[test]
    fn reads_pieces_and_specs_and_skips_unknown_fields() {
        let mut piece = Vec::new();
        len_field(1, "▁hola".as_bytes(), &mut piece);
        piece.push(2 << 3 | 5);
        piece.extend_from_slice(&(-1.5f32).to_le_bytes());
        piece.push(3 << 3);
        piece.push(4);
        // An unknown fixed64 field inside the piece.
        piece.push(9 << 3 | 1);
        piece.extend_from_slice(&[0; 8]);
        let trainer = [3 << 3, 2];
        let normalizer = [3 << 3, 0, 4 << 3, 0];
        let mut model = Vec::new();
        len_field(1, &piece, &mut model);
        len_field(2, &trainer, &mut model);
        len_field(3, &normalizer, &mut model);
        // An unknown length-delimited field (self_test_data).
        len_field(4, b"ignored", &mut model);
        let m = parse(&model).unwrap();
        assert_eq!(m.pieces.len(), 1);
        assert_eq!(m.pieces[0].piece, "▁hola");
        assert_eq!(m.pieces[0].score, -1.5);
        assert_eq!(m.pieces[0].kind, PieceKind::UserDefined);
        assert_eq!(m.model_type, 2);
        assert!(!m.add_dummy_prefix && !m.remove_extra_whitespaces);
    }

    #[test]
    fn truncated_and_empty_input_is_an_error_not_a_panic() {
        let mut model = Vec::new();
        len_field(1, &[10, 5, b'a'], &mut model);
        assert!(parse(&model).is_err(), "piece string cut short");
        assert!(parse(&model[..3]).is_err(), "message cut short");
        assert!(parse(&[]).is_err(), "no pieces");
        assert!(parse(&[0xff; 11]).is_err(), "overlong varint");
        assert!(parse(&[1 << 3 | 3]).is_err(), "group wire type");
    }
}
