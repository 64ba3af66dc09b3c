// One collection: the packages are built once (minutes of dotnet publish on a small machine) and
// every test installs them into a throwaway root of its own.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

// dpkg, systemd and the packages are Linux's.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
