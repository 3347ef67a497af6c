// Runs an ONNX model with ONNX Runtime (CPU) for the Netloom export tests:
//   node run_onnx.js MODEL.onnx INPUTS.json OUTPUTS.json
// JSON tensors are {"dtype": "float32"|"int64", "dims": [...], "data": [...]}, keyed by name.
const fs = require('fs');
const ort = require('onnxruntime-node');

(async () => {
  const [model, inPath, outPath] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
  const inputs = JSON.parse(fs.readFileSync(inPath, 'utf8'));
  const feeds = {};
  for (const [name, t] of Object.entries(inputs)) {
    const data = t.dtype === 'int64' ? BigInt64Array.from(t.data.map(BigInt)) : Float32Array.from(t.data);
    feeds[name] = new ort.Tensor(t.dtype, data, t.dims);
  }
  const results = await session.run(feeds);
  const out = {};
  for (const [name, t] of Object.entries(results))
    out[name] = { dims: t.dims, data: Array.from(t.data, Number) };
  fs.writeFileSync(outPath, JSON.stringify(out));
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
