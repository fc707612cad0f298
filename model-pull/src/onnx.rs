//! Converting a 4-bit quantized ONNX BERT into a safetensors file that
//! candle-transformers' BERT loads.
//!
//! The PII model ships only as ONNX with weights quantized for onnxruntime:
//! every linear layer is a `MatMulNBits` node (com.microsoft) holding packed
//! 4-bit weights with one f32 scale per block, and the embedding tables are
//! uint8 with a per-tensor scale and zero point, dequantized after the
//! lookup. Candle runs neither op, so the weights are dequantized once, at
//! pull time, into the f32 tensors a Hugging Face checkpoint would hold,
//! under the same names. Biases and layer norms are already f32 under their
//! Hugging Face names and are copied as they are.
//!
//! Only the few protobuf fields this needs are read (the ONNX schema is
//! stable and these fields have never changed number), which spares the
//! build a protobuf compiler; the wire format is the `protowire` crate's,
//! shared with translate's sentencepiece reader.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, bail, ensure};

/// ONNX `TensorProto.DataType` values this converter understands.
const FLOAT: i32 = 1;
const UINT8: i32 = 2;
const INT8: i32 = 3;

/// A tensor from the model: shape, element type and little-endian bytes.
#[derive(Debug, Clone, Default)]
pub struct OnnxTensor {
    pub dims: Vec<usize>,
    pub data_type: i32,
    pub raw: Vec<u8>,
}

impl OnnxTensor {
    fn len(&self) -> usize {
        self.dims.iter().product()
    }

    pub fn floats(&self) -> anyhow::Result<Vec<f32>> {
        ensure!(
            self.data_type == FLOAT,
            "expected f32 data, found type {}",
            self.data_type
        );
        ensure!(
            self.raw.len() == self.len() * 4,
            "f32 tensor of the wrong size"
        );
        Ok(self
            .raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// One value of a scalar (or single-element) tensor, as f32.
    fn scalar(&self) -> anyhow::Result<f32> {
        ensure!(
            self.len() == 1,
            "expected a scalar, found shape {:?}",
            self.dims
        );
        Ok(match self.data_type {
            FLOAT => self.floats()?[0],
            UINT8 => f32::from(self.raw[0]),
            INT8 => f32::from(self.raw[0] as i8),
            t => bail!("unsupported scalar type {t}"),
        })
    }
}

#[derive(Debug, Default)]
pub struct Node {
    pub name: String,
    pub op_type: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub ints: HashMap<String, i64>,
    /// Tensor-valued attributes (a `Constant` node's `value`).
    pub tensors: HashMap<String, OnnxTensor>,
}

#[derive(Debug, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub initializers: HashMap<String, OnnxTensor>,
}

impl Graph {
    /// Reads an ONNX `ModelProto`.
    pub fn parse(bytes: &[u8]) -> anyhow::Result<Graph> {
        let mut graph = None;
        for field in Fields::new(bytes) {
            let (number, value) = field?;
            if number == 7 {
                graph = Some(parse_graph(value.bytes()?)?);
            }
        }
        graph.context("the ONNX file has no graph")
    }

    /// An initializer, or the value of the `Constant` node producing `name`.
    fn constant(&self, name: &str) -> anyhow::Result<&OnnxTensor> {
        if let Some(t) = self.initializers.get(name) {
            return Ok(t);
        }
        self.nodes
            .iter()
            .find(|n| n.op_type == "Constant" && n.outputs.iter().any(|o| o == name))
            .and_then(|n| n.tensors.get("value"))
            .with_context(|| format!("no constant named {name}"))
    }

    fn producer(&self, output: &str) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|n| n.outputs.iter().any(|o| o == output))
    }
}

/// Named f32 tensors: shape and values, by Hugging Face checkpoint name.
pub type Weights = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// The f32 weights of a quantized BERT, under Hugging Face names.
///
/// - `MatMulNBits` nodes named `/a/b/c/MatMul_Q4` become `a.b.c.weight`,
///   shaped `[N, K]` like a `Linear` weight;
/// - `DequantizeLinear` after a `Gather` from `x_quantized` becomes `x`;
/// - f32 initializers already named like a checkpoint (`bert.…`,
///   `classifier.…`) are copied.
pub fn dequantize_bert(graph: &Graph) -> anyhow::Result<Weights> {
    let mut out = BTreeMap::new();
    for (name, t) in &graph.initializers {
        if t.data_type == FLOAT && (name.starts_with("bert.") || name.starts_with("classifier.")) {
            out.insert(name.clone(), (t.dims.clone(), t.floats()?));
        }
    }
    for node in &graph.nodes {
        match node.op_type.as_str() {
            "MatMulNBits" => {
                let name = linear_name(&node.name)
                    .with_context(|| format!("unexpected MatMulNBits node {:?}", node.name))?;
                let weight =
                    matmul_nbits(graph, node).with_context(|| format!("node {}", node.name))?;
                out.insert(name, weight);
            }
            "DequantizeLinear" => {
                let gather = graph
                    .producer(&node.inputs[0])
                    .filter(|n| n.op_type == "Gather")
                    .with_context(|| format!("{} does not follow a Gather", node.name))?;
                let table_name = &gather.inputs[0];
                let name = table_name
                    .strip_suffix("_quantized")
                    .with_context(|| format!("unexpected quantized table {table_name}"))?;
                let table = graph.constant(table_name)?;
                let scale = graph.constant(&node.inputs[1])?.scalar()?;
                let zero = match node.inputs.get(2).filter(|s| !s.is_empty()) {
                    Some(z) => graph.constant(z)?.scalar()?,
                    None => 0.0,
                };
                let values = match table.data_type {
                    UINT8 => table
                        .raw
                        .iter()
                        .map(|&q| (f32::from(q) - zero) * scale)
                        .collect(),
                    INT8 => table
                        .raw
                        .iter()
                        .map(|&q| (f32::from(q as i8) - zero) * scale)
                        .collect(),
                    t => bail!("{table_name}: unsupported quantized type {t}"),
                };
                out.insert(name.to_string(), (table.dims.clone(), values));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// `/bert/encoder/layer.0/attention/self/query/MatMul_Q4` →
/// `bert.encoder.layer.0.attention.self.query.weight`.
fn linear_name(node: &str) -> Option<String> {
    let path = node.strip_prefix('/')?;
    let (module, _) = path.rsplit_once('/')?;
    Some(format!("{}.weight", module.replace('/', ".")))
}

/// Unpacks a `MatMulNBits` weight into `[N, K]` f32.
///
/// Layout (onnxruntime's contrib op): B is `[N, blocks, block_size / 2]`
/// bytes, each holding two 4-bit values, the even element in the low nibble;
/// scales are `[N, blocks]` f32; the optional zero points are packed two per
/// byte the same way, and default to 8. value = (q − zero) × scale.
fn matmul_nbits(graph: &Graph, node: &Node) -> anyhow::Result<(Vec<usize>, Vec<f32>)> {
    let attr = |name: &str| {
        node.ints
            .get(name)
            .copied()
            .with_context(|| format!("missing attribute {name}"))
    };
    let (k, n) = (attr("K")? as usize, attr("N")? as usize);
    let bits = attr("bits")?;
    let block = attr("block_size")? as usize;
    ensure!(bits == 4, "only 4-bit weights are supported, found {bits}");
    ensure!(
        block >= 2 && block.is_multiple_of(2),
        "odd block size {block}"
    );
    let blocks = k.div_ceil(block);
    let packed = graph.constant(&node.inputs[1])?;
    let scales = graph.constant(&node.inputs[2])?.floats()?;
    ensure!(packed.data_type == UINT8, "packed weights must be uint8");
    ensure!(
        packed.raw.len() == n * blocks * block / 2,
        "packed weights hold {} bytes, expected {}",
        packed.raw.len(),
        n * blocks * block / 2
    );
    ensure!(scales.len() == n * blocks, "expected {} scales", n * blocks);
    let zeros = match node.inputs.get(3).filter(|s| !s.is_empty()) {
        Some(z) => {
            let z = graph.constant(z)?;
            ensure!(
                z.data_type == UINT8,
                "only packed uint8 zero points are supported"
            );
            Some((z.raw.clone(), blocks.div_ceil(2)))
        }
        None => None,
    };
    let mut w = vec![0f32; n * k];
    for row in 0..n {
        for b in 0..blocks {
            let scale = scales[row * blocks + b];
            let zero = match &zeros {
                Some((z, per_row)) => {
                    let byte = z[row * per_row + b / 2];
                    f32::from(if b % 2 == 0 { byte & 0x0f } else { byte >> 4 })
                }
                None => 8.0,
            };
            let bytes = &packed.raw[(row * blocks + b) * block / 2..][..block / 2];
            for (j, &byte) in bytes.iter().enumerate() {
                for (half, q) in [(0, byte & 0x0f), (1, byte >> 4)] {
                    let col = b * block + 2 * j + half;
                    if col < k {
                        w[row * k + col] = (f32::from(q) - zero) * scale;
                    }
                }
            }
        }
    }
    Ok((vec![n, k], w))
}

fn parse_graph(bytes: &[u8]) -> anyhow::Result<Graph> {
    let mut graph = Graph::default();
    for field in Fields::new(bytes) {
        match field? {
            (1, v) => graph.nodes.push(parse_node(v.bytes()?)?),
            (5, v) => {
                let (name, tensor) = parse_tensor(v.bytes()?)?;
                graph.initializers.insert(name, tensor);
            }
            _ => {}
        }
    }
    Ok(graph)
}

fn parse_node(bytes: &[u8]) -> anyhow::Result<Node> {
    let mut node = Node::default();
    for field in Fields::new(bytes) {
        match field? {
            (1, v) => node.inputs.push(v.string()?),
            (2, v) => node.outputs.push(v.string()?),
            (3, v) => node.name = v.string()?,
            (4, v) => node.op_type = v.string()?,
            (5, v) => {
                let mut name = String::new();
                let mut int = None;
                let mut tensor = None;
                for field in Fields::new(v.bytes()?) {
                    match field? {
                        (1, v) => name = v.string()?,
                        (3, Value::Varint(i)) => int = Some(i as i64),
                        (5, v) => tensor = Some(parse_tensor(v.bytes()?)?.1),
                        _ => {}
                    }
                }
                if let Some(i) = int {
                    node.ints.insert(name.clone(), i);
                }
                if let Some(t) = tensor {
                    node.tensors.insert(name, t);
                }
            }
            _ => {}
        }
    }
    Ok(node)
}

fn parse_tensor(bytes: &[u8]) -> anyhow::Result<(String, OnnxTensor)> {
    let mut name = String::new();
    let mut t = OnnxTensor::default();
    let mut floats = Vec::new();
    let mut int32s = Vec::new();
    let mut external = false;
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Varint(d)) => t.dims.push(d as usize),
            (1, Value::Bytes(b)) => {
                for v in protowire::packed_varints(b) {
                    t.dims.push(v? as usize);
                }
            }
            (2, Value::Varint(d)) => t.data_type = d as i32,
            (4, Value::Fixed32(f)) => floats.push(f),
            (4, Value::Bytes(b)) => {
                ensure!(b.len() % 4 == 0, "truncated float_data");
                floats.extend(
                    b.chunks_exact(4)
                        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                );
            }
            (5, Value::Varint(v)) => int32s.push(v),
            (5, Value::Bytes(b)) => {
                for v in protowire::packed_varints(b) {
                    int32s.push(v?);
                }
            }
            (8, v) => name = v.string()?,
            (9, v) => t.raw = v.bytes()?.to_vec(),
            (14, Value::Varint(1)) => external = true,
            _ => {}
        }
    }
    ensure!(
        !external,
        "tensor {name} keeps its data in an external file"
    );
    if t.raw.is_empty() {
        // Typed fields instead of raw_data: f32 in float_data, and the small
        // integer types in int32_data, one value per entry.
        if !floats.is_empty() {
            t.raw = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
        } else if !int32s.is_empty() {
            t.raw = int32s.iter().map(|&v| v as u8).collect();
        }
    }
    Ok((name, t))
}

/// One protobuf field value, by wire type.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl<'a> Value<'a> {
    fn bytes(self) -> anyhow::Result<&'a [u8]> {
        match self {
            Value::Bytes(b) => Ok(b),
            other => bail!("expected a length-delimited field, found {other:?}"),
        }
    }

    fn string(self) -> anyhow::Result<String> {
        String::from_utf8(self.bytes()?.to_vec()).context("a string field is not UTF-8")
    }
}

/// The fields of one protobuf message, in order, as [`Value`]s.
struct Fields<'a> {
    reader: protowire::Reader<'a>,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Fields {
            reader: protowire::Reader::new(buf),
        }
    }

    fn next_field(&mut self) -> anyhow::Result<Option<(u32, Value<'a>)>> {
        let r = &mut self.reader;
        let Some((number, wire)) = r.key()? else {
            return Ok(None);
        };
        let value = match wire {
            protowire::VARINT => Value::Varint(r.varint()?),
            protowire::FIXED64 => {
                // No field this reader needs is a fixed64.
                r.fixed64()?;
                Value::Fixed64
            }
            protowire::LEN => Value::Bytes(r.bytes()?),
            protowire::FIXED32 => Value::Fixed32(u32::from_le_bytes(r.fixed32()?)),
            w => bail!("unsupported protobuf wire type {w}"),
        };
        Ok(Some((number as u32, value)))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = anyhow::Result<(u32, Value<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let field = self.next_field().transpose();
        if matches!(field, Some(Err(_))) {
            // Stop after the first error rather than reading garbage.
            self.reader = protowire::Reader::new(&[]);
        }
        field
    }
}

#[cfg(test)]
mod tests {
    //! A tiny protobuf writer builds ONNX graphs by hand, so the reader and
    //! the dequantization are checked against values worked out on paper.

    use super::*;

    fn field_bytes(number: u32, payload: &[u8], out: &mut Vec<u8>) {
        protowire::write::len_field(u64::from(number), payload, out);
    }

    fn field_varint(number: u32, v: u64, out: &mut Vec<u8>) {
        protowire::write::varint_field(u64::from(number), v, out);
    }

    fn tensor(name: &str, dims: &[u64], data_type: i32, raw: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        for &d in dims {
            field_varint(1, d, &mut t);
        }
        field_varint(2, data_type as u64, &mut t);
        field_bytes(8, name.as_bytes(), &mut t);
        field_bytes(9, raw, &mut t);
        t
    }

    fn node(
        name: &str,
        op: &str,
        inputs: &[&str],
        outputs: &[&str],
        ints: &[(&str, u64)],
    ) -> Vec<u8> {
        let mut n = Vec::new();
        for i in inputs {
            field_bytes(1, i.as_bytes(), &mut n);
        }
        for o in outputs {
            field_bytes(2, o.as_bytes(), &mut n);
        }
        field_bytes(3, name.as_bytes(), &mut n);
        field_bytes(4, op.as_bytes(), &mut n);
        for (k, v) in ints {
            let mut a = Vec::new();
            field_bytes(1, k.as_bytes(), &mut a);
            field_varint(3, *v, &mut a);
            field_bytes(5, &a, &mut n);
        }
        n
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|f| f.to_le_bytes()).collect()
    }

    fn model() -> Vec<u8> {
        let mut g = Vec::new();
        // A 2×4 linear layer in blocks of 2 columns.
        // Row 0: q = [9, 7, 8, 15] (bytes 0x79, 0xf8), scales [0.5, 2.0]
        //   → [(9-8)·.5, (7-8)·.5, (8-8)·2, (15-8)·2] = [0.5, -0.5, 0, 14]
        // Row 1: q = [0, 8, 1, 2] (bytes 0x80, 0x21), scales [1, -1]
        //   → [-8, 0, 7, 6]
        field_bytes(
            1,
            &node(
                "/bert/encoder/layer.0/output/dense/MatMul_Q4",
                "MatMulNBits",
                &["x", "w_q4", "w_scales"],
                &["y"],
                &[("K", 4), ("N", 2), ("bits", 4), ("block_size", 2)],
            ),
            &mut g,
        );
        field_bytes(
            5,
            &tensor("w_q4", &[2, 2, 1], UINT8, &[0x79, 0xf8, 0x80, 0x21]),
            &mut g,
        );
        field_bytes(
            5,
            &tensor("w_scales", &[2, 2], FLOAT, &f32s(&[0.5, 2.0, 1.0, -1.0])),
            &mut g,
        );
        // An embedding table of uint8 with scale 0.25 and zero point 128.
        field_bytes(
            1,
            &node(
                "/bert/embeddings/word_embeddings/Gather",
                "Gather",
                &["emb_quantized", "ids"],
                &["g"],
                &[],
            ),
            &mut g,
        );
        field_bytes(
            1,
            &node(
                "/deq",
                "DequantizeLinear",
                &["g", "emb_scale", "emb_zero"],
                &["e"],
                &[],
            ),
            &mut g,
        );
        field_bytes(
            5,
            &tensor("emb_quantized", &[1, 3], UINT8, &[128, 132, 0]),
            &mut g,
        );
        // The scale comes from a Constant node, as it does in some exports.
        let mut constant = node("/c", "Constant", &[], &["emb_scale"], &[]);
        let mut attr = Vec::new();
        field_bytes(1, b"value", &mut attr);
        field_bytes(5, &tensor("", &[], FLOAT, &f32s(&[0.25])), &mut attr);
        field_bytes(5, &attr, &mut constant);
        field_bytes(1, &constant, &mut g);
        field_bytes(5, &tensor("emb_zero", &[], UINT8, &[128]), &mut g);
        field_bytes(
            5,
            &tensor(
                "bert.embeddings.LayerNorm.bias",
                &[2],
                FLOAT,
                &f32s(&[1.0, -2.0]),
            ),
            &mut g,
        );
        let mut m = Vec::new();
        field_varint(1, 8, &mut m); // ir_version, skipped
        field_bytes(7, &g, &mut m);
        m
    }

    #[test]
    fn dequantizes_4_bit_linears_and_8_bit_tables_under_hf_names() {
        let graph = Graph::parse(&model()).unwrap();
        let w = dequantize_bert(&graph).unwrap();
        let names: Vec<_> = w.keys().cloned().collect();
        assert_eq!(
            names,
            [
                "bert.embeddings.LayerNorm.bias",
                "bert.encoder.layer.0.output.dense.weight",
                "emb",
            ]
        );
        let (shape, values) = &w["bert.encoder.layer.0.output.dense.weight"];
        assert_eq!(shape, &[2, 4]);
        assert_eq!(values, &[0.5, -0.5, 0.0, 14.0, -8.0, 0.0, 7.0, 6.0]);
        let (shape, values) = &w["emb"];
        assert_eq!(shape, &[1, 3]);
        assert_eq!(values, &[0.0, 1.0, -32.0]);
        assert_eq!(w["bert.embeddings.LayerNorm.bias"].1, [1.0, -2.0]);
    }

    #[test]
    fn truncated_or_foreign_bytes_are_errors_not_panics() {
        let m = model();
        for cut in [1, 7, m.len() / 2, m.len() - 1] {
            assert!(Graph::parse(&m[..cut]).is_err(), "cut at {cut}");
        }
        assert!(Graph::parse(b"not a model at all").is_err());
        assert!(Graph::parse(&[]).is_err(), "no graph");
    }
}
