// ONNX Runtime (CPU) latency of a model at several batch sizes, for
// tests/benchmarks/run_onnx_vs_ort.sh:  node bench_onnx.js MODEL.onnx BATCHES THREADS REPEATS
// Prints one JSON line per batch: the median and minimum of REPEATS runs after 3 warm-ups.
const ort = require('onnxruntime-node');

(async () => {
  const [model, batches, threads, repeats] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads), interOpNumThreads: 1, executionMode: 'sequential',
  });
  const input = session.inputNames[0];
  // The input's shape from the model file is not exposed by onnxruntime-node: the script
  // passes it as DIMS (batch first) through the environment.
  const dims = JSON.parse(process.env.NETLOOM_BENCH_DIMS);
  for (const b of batches.split(',').map(Number)) {
    const shape = [b, ...dims.slice(1)];
    const data = Float32Array.from({ length: shape.reduce((a, c) => a * c, 1) }, () => Math.random() * 2 - 1);
    const feeds = { [input]: new ort.Tensor('float32', data, shape) };
    for (let w = 0; w < 3; ++w) await session.run(feeds);
    const times = [];
    for (let r = 0; r < Number(repeats); ++r) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((a, c) => a - c);
    const median = times.length % 2 ? times[(times.length - 1) / 2] : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
    console.log(JSON.stringify({ bench: 'onnx_run', engine: 'onnxruntime', model, batch: b, threads: Number(threads),
                                 median_ms: Number(median.toFixed(3)), min_ms: Number(times[0].toFixed(3)) }));
  }
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
