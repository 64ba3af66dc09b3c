// Every test here runs silo processes; on a small machine, starting three silos next to a test that
// times another silo's start-up makes both slow, so collections run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
