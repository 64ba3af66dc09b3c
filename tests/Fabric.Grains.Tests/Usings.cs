namespace Fabric.Grains.Tests;
