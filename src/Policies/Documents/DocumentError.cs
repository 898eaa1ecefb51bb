namespace KvmCluster.Policies.Documents;

/// <summary>One problem in a document, located precisely enough to fix it without guessing.</summary>
public sealed record DocumentError(string File, int Line, int Column, string Path, string Message)
{
    public override string ToString() =>
        string.IsNullOrEmpty(Path) ? $"{File}:{Line}:{Column}: {Message}" : $"{File}:{Line}:{Column}: {Path}: {Message}";
}

/// <summary>Thrown when a document has errors; carries all of them, not just the first.</summary>
public sealed class DocumentException(IReadOnlyList<DocumentError> errors)
    : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<DocumentError> Errors { get; } = errors;
}
