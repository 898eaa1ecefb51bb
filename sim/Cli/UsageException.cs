namespace KvmCluster.Sim.Cli;

/// <summary>A mistake in how the command was called or in the files it was given: exit code 2, no stack trace.</summary>
public sealed class UsageException(string message) : Exception(message);
