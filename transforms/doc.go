// Package transforms holds Minerva's Apache Beam DoFns and CombineFns: the
// Parquet read and shard-write steps, the tokenize and detokenize steps that
// batch elements inside a bundle, and the statistics combiner.
//
// The steps are built to stay fused on one stage (read → work → write, with
// no GroupByKey, Reshuffle or Flatten between them), so runners such as
// prism stream rows through with bounded memory. Every input row leaves the
// work step exactly once: on the results output or on the errors output.
package transforms
