// Package train runs SimSiam training as a researcher runs it for real: the step
// loop over a data ordering, the schedule, logging to metrics.jsonl, atomic
// checkpoints with exact resume, and the step benchmark that compares the engine
// with PyTorch.
package train
