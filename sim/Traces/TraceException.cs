namespace KvmCluster.Sim.Traces;

/// <summary>A malformed trace: which file, which line, what was expected. The run stops with exit code 2.</summary>
public sealed class TraceException(string file, int line, string message)
    : Exception(line > 0 ? $"{file}:{line}: {message}" : $"{file}: {message}")
{
    public string File { get; } = file;
    public int Line { get; } = line;
}
