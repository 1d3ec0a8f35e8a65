using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Steps;

/// <summary>One command run inside the build container, under a ` -----> Title` header.</summary>
public sealed record BuildStep(string Name, string Title, string Script)
{
    /// <summary>The code a non-zero exit is reported with.</summary>
    public DiagnosticCode FailureCode { get; init; } = DiagnosticCodes.BuildStepFailed;
}
