// Package sweep runs a study: a grid of training runs over config axes (orderings,
// subset sizes, widths, methods, seeds), each trained, evaluated the same way and
// summarised with error bars over seeds, resumable and sharded over machines.
//
// A sweep file (Parse) is a base config, a grid and the evaluations:
//
//	name: orderings-small
//	base: {data: fashion-mnist, width: 8, steps: 3000, batch: 256}
//	grid: {order: [multi, single, hybrid], seed: [1, 2, 3]}
//	eval: [collapse, knn, loss, linear]
//
// The sweep folder DIR holds sweep.yaml (a copy of the file under its SHA-256,
// which pins the folder to that sweep: Init) and one run folder per grid point,
// named from its axes ("order=single,seed=2"). A run folder is a `siam train`
// folder (config.yaml, metrics.jsonl, checkpoint.safetensors) plus results.jsonl
// (the records of `siam eval` / `siam collapse`, package evalrun), done.json when
// finished, error.txt after a failure, sweep.log and, while a process works on
// it, lock.
//
// Run takes the runs of one shard (index % N == I), skips finished runs,
// resumes interrupted ones bit-exactly from their checkpoints, and runs Parallel
// at once, each in a child process with its share of the cores. A per-run lock
// (exclusive create, pid and host, heartbeat; see Acquire) keeps two processes
// from working on one run. Status reports every run's state; Aggregate
// summarises the finished runs per grid point, mean ± sd over the seed axis.
//
// Package sweep sits above train, report and plots; only cmd/siam imports it.
package sweep
