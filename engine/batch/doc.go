// Package batch is the batch vocabulary shared by Minerva's bulk
// tokenization and batch LLM inference pipelines.
//
// It defines the unit of work ([Item]), the per-item outcome ([Response]),
// the outcome of one batch ([Result]), batch-size defaults and bounds
// ([Limits]), and run statistics ([Stats]).
//
// Statistics can be computed in two ways:
//
//   - [Result.Stats] summarises a single in-memory batch from the measured
//     per-item durations and the measured wall time of the batch.
//   - [Accumulator] is a mergeable summary of per-item [Observation]s. Its
//     state lives entirely in exported fields of plain types so that Apache
//     Beam's default coder can ship partial accumulators between workers, and
//     [Accumulator.Merge] is exact: any grouping and order of merges yields the
//     same [Stats] as adding every observation to a single accumulator.
//     Latency percentiles come from a [Sketch], a log-bucketed histogram with
//     bounded relative error.
//
// The package has no dependency on Beam itself.
package batch
