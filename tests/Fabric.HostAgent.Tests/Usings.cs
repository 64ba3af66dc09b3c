namespace Fabric.HostAgent.Tests;
