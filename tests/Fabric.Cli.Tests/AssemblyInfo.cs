// The silo and the namespace lab are real processes on two shared cores: one collection at a time,
// so a wait bound measures the fabric, not the neighbouring test's load.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
