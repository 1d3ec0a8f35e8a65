namespace ModWsgi.Core.Diagnostics;

/// <summary>
/// A failure the user can act on: carries a stable <c>MODWSGInnnn</c> code and a message that says what to do.
/// Tasks and the CLI print it as a coded diagnostic, never as a stack trace.
/// </summary>
public sealed class ModWsgiException : Exception
{
    public ModWsgiException(DiagnosticCode code, string message, Exception? inner = null)
        : base(message, inner) => Code = code;

    public DiagnosticCode Code { get; }

    public string Id => Code.Id;

    public override string ToString() => $"{Id}: {Message}";
}
