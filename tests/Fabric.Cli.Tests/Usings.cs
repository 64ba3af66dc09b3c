namespace Fabric.Cli.Tests;
