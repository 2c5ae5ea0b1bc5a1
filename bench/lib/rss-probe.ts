// Loaded with --import: prints the process's memory at exit (module-load cost of an entry point).
process.on('exit', () => {
  const m = process.memoryUsage();
  process.stderr.write(`RSSPROBE ${JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external })}\n`);
});
