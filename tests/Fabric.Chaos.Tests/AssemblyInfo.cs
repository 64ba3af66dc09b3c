// One shared fabric; the cases kill and pause its processes, so nothing runs in parallel.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
