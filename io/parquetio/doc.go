// Package parquetio reads the Parquet inputs of tokenization and inference
// jobs and writes their Parquet outputs.
//
// The input side validates request files up front ([Inspect],
// [InspectTokens], [InspectRequests]) and then streams their rows
// ([ReadRows], [ReadIDs], [ReadTokenRows], [ReadRequestRows]), whole or by
// ranges of row groups ([ReadRowGroups], [ReadTokenRowGroups],
// [ReadRequestRowGroups], with the layout from [RowGroups]) so that a large
// file can be read in pieces by a splittable DoFn. Inference
// request files have id and prompt columns and optional per-row parameters
// (max_tokens, temperature, top_p, top_k, seed, stop, priority; see
// [RequestColumns]), which [ReadRequestRows] turns into an [infer.Spec] per
// row. Readers decode only the columns they need (column projection) and hold
// at most a page's worth of each of those columns in memory at a time, so
// files of any size can be processed. Errors always name the input file, and
// corrupt files yield errors rather than panics.
//
// The output side writes shards with [ShardWriter]: rows go to a hidden
// temporary file that is atomically renamed into place on
// [ShardWriter.Commit], so readers of an output folder never observe a
// partial shard. The output row types ([TokenResult], [TextResult],
// [TokenizeError], [DetokenizeError], [InferResult], [InferError]) carry
// parquet struct tags that give schemas other engines (DuckDB, Arrow, Spark)
// read with the natural types: strings are BYTE_ARRAY with the STRING logical
// type, integers INT32/INT64, floating-point values DOUBLE, optional values
// nullable columns, and lists standard three-level LISTs.
//
// Only the local filesystem is supported for now; file access goes through a
// small internal seam so that other storage (such as GCS) can be added later.
package parquetio
