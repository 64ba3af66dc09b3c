using Fabric.Cli;

// fabricctl: the operator's command line of the Fabric distributed switch (FabricCli).
return await FabricCli.RunAsync(args, CliConsole.FromProcess());
