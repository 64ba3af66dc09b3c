// A real browser, a silo and a namespace lab on two shared cores: one collection at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
