//! corsaro3 flowtuple Avro files to report-plugin style time series.
