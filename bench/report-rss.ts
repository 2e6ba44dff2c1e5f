/** Preloaded (`node --require`) into a task process by bench:train-task: prints its peak RSS on stderr at exit. */
process.on('exit', () => {
  process.stderr.write(`peak-rss-mb=${Math.round(process.resourceUsage().maxRSS / 1024)}\n`);
});
