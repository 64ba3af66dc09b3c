namespace Fabric.Providers.Tests;
