namespace Fabric.Silo.Tests;
