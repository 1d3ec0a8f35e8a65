namespace ModWsgi.Core;

/// <summary>The mod_wsgi-express-style server options baked into the image's Cmd.</summary>
public sealed record WsgiServerOptions
{
    /// <summary>The spellings WsgiApplicationType accepts (script, module, paste, static).</summary>
    public static IReadOnlyList<string> ApplicationTypes => WsgiApplicationTypes.Names;

    public WsgiApplicationType ApplicationType { get; init; } = WsgiApplicationType.Script;

    /// <summary>Script path (relative to the app folder) or dotted module name; null means the launcher's default (wsgi.py).</summary>
    public string? EntryPoint { get; init; }

    public string? CallableObject { get; init; }

    public string? WorkingDirectory { get; init; }

    public IReadOnlyList<UrlAlias> UrlAliases { get; init; } = [];

    /// <summary>The port Apache listens on and the image exposes (ContainerPort); 80 unless set.</summary>
    public int Port { get; init; } = DefaultPort;

    public const int DefaultPort = Settings.SettingsTable.DefaultContainerPort;

    /// <summary>Seconds docker stop lets requests in flight finish (WsgiGracefulStopTimeout); null leaves the launcher's default.</summary>
    public int? GracefulStopTimeout { get; init; }

    /// <summary>Further launcher arguments, as given (e.g. --processes=2).</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>The image's Cmd: the launcher arguments after the start script's defaults.</summary>
    public IReadOnlyList<string> ToArguments()
    {
        var args = new List<string> { "--application-type", ApplicationType.Name() };
        if (EntryPoint is not null)
            args.AddRange(["--entry-point", EntryPoint]);
        if (CallableObject is not null)
            args.AddRange(["--callable-object", CallableObject]);
        if (WorkingDirectory is not null)
            args.AddRange(["--working-directory", WorkingDirectory]);
        foreach (var alias in UrlAliases)
            args.AddRange(["--url-alias", alias.Url, alias.Path]);
        if (Port != DefaultPort)
            args.AddRange(["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        if (GracefulStopTimeout is { } seconds)
            args.AddRange(["--graceful-stop-timeout", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        args.AddRange(Arguments);
        return args;
    }
}

public sealed record UrlAlias(string Url, string Path);
