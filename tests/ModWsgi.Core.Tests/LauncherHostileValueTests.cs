using System.Text;

namespace ModWsgi.Core.Tests;

/// <summary>
/// Hostile values (docker run -e MOD_WSGI_*, options, server_args) for every class of value the launcher writes into
/// httpd.conf or a gunicorn/waitress command line: each either reaches it as one intact token, or is refused with a
/// clear message naming where it came from. A value is judged by reading the output back the way Apache (or a shell)
/// does, and comparing it with the output for a harmless value: same lines, same directive on each line.
/// </summary>
public partial class LauncherTests
{
    /// <summary>Values that can never be quoted for Apache (a line break, a control character, its ${ syntax).</summary>
    private static readonly string[] Refused =
        ["x\nInclude /etc/shadow", "x\rInclude /etc/shadow", "x\u0001y", "x\u007fy", "x\u2028Include /etc/shadow", "x${HOME}y"];

    public static TheoryData<string> RefusedPayloads() => new(Refused);

    /// <summary>Values that must arrive quoted: a quote that would end the token, backslashes, a trailing backslash.</summary>
    private static readonly string[] QuotablePayloads = ["x\" Include \"/etc/shadow", "x\\", "a\\\"b", "it's", "a b"];

    /// <summary>One case per value class: how a value is passed (options and environment), for the server given.</summary>
    private sealed record ValueClass(string Name, Func<string, string[]> Args, Func<string, Dictionary<string, string>>? Env = null,
        bool Quotable = true, string Server = "mod_wsgi");

    private static readonly ValueClass[] ValueClasses =
    [
        new("path --working-directory", v => ["--working-directory", v]),
        new("path --entry-point (script)", v => ["--entry-point", v + "/wsgi.py"]),
        new("path --python-path", v => ["--python-path", v]),
        new("path --python-home", v => ["--python-home", "/srv/" + v]),
        new("path --document-root", v => ["--document-root", v]),
        new("path --server-root", v => ["--server-root", "/var/tmp/" + v]),
        new("path MOD_WSGI_ENTRY_POINT (paste)", _ => [], v => new() { ["MOD_WSGI_APPLICATION_TYPE"] = "paste", ["MOD_WSGI_ENTRY_POINT"] = v + ".ini" }),
        new("path MOD_WSGI_PYTHON_PATH", _ => [], v => new() { ["MOD_WSGI_PYTHON_PATH"] = "/srv/" + v }),
        new("path MOD_WSGI_SERVER_ROOT", _ => [], v => new() { ["MOD_WSGI_SERVER_ROOT"] = "/var/tmp/" + v }),
        new("URL --url-alias", v => ["--url-alias", "/s" + v, "static"]),
        new("alias path --url-alias", v => ["--url-alias", "/s", v]),
        new("name --directory-index", v => ["--document-root", "htdocs", "--directory-index", v + ".html"]),
        // daemon mode: its lang= and locale= options carry LANG (embedded mode leaves it in the environment).
        new("environment LANG (daemon mode)", _ => ["--daemon-mode"], v => new() { ["LANG"] = "C.UTF-8" + v }),
        // Names and numbers are checked against their syntax: no hostile value is ever valid.
        new("name --callable-object", v => ["--callable-object", "app" + v], Quotable: false),
        new("name module --entry-point", v => ["--application-type", "module", "--entry-point", "pkg" + v], Quotable: false),
        new("name --log-level", v => ["--log-level", "warn" + v], Quotable: false),
        new("name --server-mpm", v => ["--server-mpm", "event" + v], Quotable: false),
        new("name MOD_WSGI_APPLICATION_TYPE", _ => [], v => new() { ["MOD_WSGI_APPLICATION_TYPE"] = "script" + v }, Quotable: false),
        new("number --port", v => ["--port", "80" + v], Quotable: false),
        new("number MOD_WSGI_PROCESSES", _ => [], v => new() { ["MOD_WSGI_PROCESSES"] = "2" + v }, Quotable: false),
        new("number --initial-workers", v => ["--initial-workers", "0.5" + v], Quotable: false),
        new("gunicorn path --working-directory", v => ["--working-directory", v], Server: "gunicorn"),
        new("gunicorn path --python-path", v => ["--python-path", v], Server: "gunicorn"),
        new("gunicorn path --entry-point", v => ["--python-path", "/srv/" + v, "--entry-point", "/srv/" + v + "/wsgi.py"], Server: "gunicorn"),
        new("waitress path --python-path", v => ["--python-path", v], Server: "waitress"),
        new("waitress path --working-directory", v => ["--working-directory", v], Server: "waitress"),
    ];

    public static TheoryData<string, string> EveryValueClassWithEveryPayload()
    {
        var data = new TheoryData<string, string>();
        foreach (var valueClass in ValueClasses)
        {
            foreach (var payload in Refused.Concat(QuotablePayloads))
            {
                data.Add(valueClass.Name, payload);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(EveryValueClassWithEveryPayload))]
    public async Task HostileValue_ReachesTheServerAsOneIntactTokenOrIsRefused(string className, string payload)
    {
        var valueClass = ValueClasses.Single(c => c.Name == className);
        var refused = Refused.Contains(payload) || !valueClass.Quotable;

        // Names and numbers have no harmless text to add: their baseline is the plain name or number.
        var baseline = await RunClass(valueClass, valueClass.Quotable ? "plain" : "");
        Assert.True(baseline.ExitCode == 0, $"{className} with a harmless value: exit {baseline.ExitCode}: {baseline.Stderr}");
        var hostile = await RunClass(valueClass, payload);

        Assert.DoesNotContain("Traceback", hostile.Stderr);
        if (refused)
        {
            Assert.True(hostile.ExitCode == 2, $"{className} accepted {payload}:\n{hostile.Stdout}");
            Assert.StartsWith("modwsgi-launch: error: ", hostile.Stderr);
            Assert.Equal("", hostile.Stdout);
            return;
        }
        Assert.True(hostile.ExitCode == 0, $"{className} refused {payload}: {hostile.Stderr}");
        if (valueClass.Server == "mod_wsgi")
        {
            // Read back as Apache does: the same directives on the same lines, and the value in one token.
            var expected = ApacheLines(baseline.Stdout);
            var actual = ApacheLines(hostile.Stdout);
            Assert.Equal(expected.Select(l => l[0]), actual.Select(l => l[0]));
            Assert.Equal(expected.Select(l => l.Count), actual.Select(l => l.Count));
            // A paste .ini path goes into the generated handler (as a Python literal), shown in comment lines.
            var comments = hostile.Stdout.Split('\n').Where(l => l.TrimStart().StartsWith('#'));
            Assert.Contains(actual.SelectMany(l => l).Concat(comments), text => text.Contains(payload, StringComparison.Ordinal));
        }
        else
        {
            var expected = ShellWords(baseline.Stdout.Trim());
            var actual = ShellWords(hostile.Stdout.Trim());
            Assert.Equal(expected.Count, actual.Count);
            Assert.Contains(actual, word => word.Contains(payload, StringComparison.Ordinal));
        }
    }

    [Theory]
    [MemberData(nameof(RefusedPayloads))]
    public async Task HostileValue_RefusalNamesTheVariable(string payload)
    {
        var result = await Run([], new Dictionary<string, string> { ["MOD_WSGI_WORKING_DIRECTORY"] = payload });

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("modwsgi-launch: error: MOD_WSGI_WORKING_DIRECTORY may not contain ", result.Stderr);
    }

    [Theory]
    [InlineData("--entry-point x\u0000y.py", "--entry-point (in ")]
    [InlineData("--url-alias /s x\u001by", "--url-alias (in ")]
    [InlineData("--server-root ${ROOT}", "--server-root (in ")]
    public async Task HostileServerArgsWord_IsRefusedAtStartAndByTheBuildCheck(string line, string message)
    {
        using var app = new AppFolder();
        app.Write("server_args", line + "\n");
        var file = Path.Combine(app.Root, "server_args");
        // ${ROOT} expands to a value that is itself Apache's variable syntax.
        var environment = new Dictionary<string, string> { ["ROOT"] = "/var/tmp/${HOME}" };

        var started = await Run(["--server-args-file", file], environment);
        Assert.Equal(2, started.ExitCode);
        Assert.Contains(message + file + " line 1) may not contain ", started.Stderr);

        if (!line.Contains('$', StringComparison.Ordinal))
        {
            // The build's check (ServerOptionsCheckStep) turns this exit into a coded build error.
            var checkedAtBuild = await Run(["--check-only", "--server-args-file", file], environment, dryRun: false);
            Assert.Equal(2, checkedAtBuild.ExitCode);
            Assert.Contains(message + file + " line 1) may not contain ", checkedAtBuild.Stderr);
        }
    }

    [Theory]
    [InlineData("/tmp")]
    [InlineData("/")]
    [InlineData("/var/tmp/")]
    [InlineData("/app")]
    [InlineData("/opt/venv/..")]
    public async Task SharedServerRoot_IsRefusedBeforeAnythingIsWritten(string root)
    {
        var result = await Run(["--check-only"], new Dictionary<string, string> { ["MOD_WSGI_SERVER_ROOT"] = root }, dryRun: false);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("modwsgi-launch: error: MOD_WSGI_SERVER_ROOT is ", result.Stderr);
        Assert.Contains("name a folder of its own", result.Stderr);
    }

    private static Task<Result> RunClass(ValueClass valueClass, string value)
    {
        var environment = valueClass.Env?.Invoke(value) ?? [];
        if (valueClass.Server != "mod_wsgi")
        {
            environment["MOD_WSGI_SERVER"] = valueClass.Server;
        }
        return Run(valueClass.Args(value), environment);
    }

    /// <summary>httpd.conf read as Apache's ap_getword_conf reads it: the lines (not comments), each as its tokens,
    /// a quoted token unescaped (\" and \\), and mod_wsgi's name="value" options as one token each.</summary>
    private static List<List<string>> ApacheLines(string config)
    {
        var lines = new List<List<string>>();
        foreach (var raw in config.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var tokens = new List<string>();
            var i = 0;
            while (i < line.Length)
            {
                if (line[i] == ' ')
                {
                    i++;
                    continue;
                }
                var token = new StringBuilder();
                while (i < line.Length && line[i] != ' ')
                {
                    if (line[i] == '"')
                    {
                        i++;
                        while (i < line.Length && line[i] != '"')
                        {
                            if (line[i] == '\\' && i + 1 < line.Length && line[i + 1] is '"' or '\\')
                                i++;
                            token.Append(line[i++]);
                        }
                        Assert.True(i < line.Length, $"unterminated quoted value in: {line}");
                        i++;
                    }
                    else
                    {
                        token.Append(line[i++]);
                    }
                }
                tokens.Add(token.ToString());
            }
            lines.Add(tokens);
        }
        return lines;
    }

    /// <summary>A POSIX shell line's words (shlex.quote's output: bare words, '...' and the '"'"' it uses for a quote).</summary>
    private static List<string> ShellWords(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (c == ' ')
            {
                if (inWord)
                    words.Add(word.ToString());
                word.Clear();
                inWord = false;
                continue;
            }
            inWord = true;
            if (c is '\'' or '"')
            {
                var end = line.IndexOf(c, i + 1);
                Assert.True(end > i, $"unterminated quote in: {line}");
                word.Append(line, i + 1, end - i - 1);
                i = end;
            }
            else
            {
                Assert.True(c != '\\' && c != '$' && c != '`', $"unquoted shell character {c} in: {line}");
                word.Append(c);
            }
        }
        if (inWord)
            words.Add(word.ToString());
        return words;
    }
}

public partial class LauncherTests
{
    [Theory]
    [InlineData("shared", "is a shared folder (mode 1777")]
    [InlineData("other files", "already holds other files (notes.txt)")]
    [InlineData("link", "exists and is not a folder (a symbolic link)")]
    [InlineData("file", "exists and is not a folder (a file)")]
    public async Task ExistingServerRootThatIsNotOurs_IsRefusedAndLeftAsItWas(string kind, string message)
    {
        using var app = new AppFolder();
        var root = Path.Combine(app.Root, "root");
        switch (kind)
        {
            case "shared":
                Directory.CreateDirectory(root);
                File.SetUnixFileMode(root, (UnixFileMode)Convert.ToInt32("1777", 8));
                break;
            case "other files":
                app.Write("root/notes.txt", "mine");
                File.SetUnixFileMode(root, (UnixFileMode)Convert.ToInt32("700", 8));
                break;
            case "link":
                Directory.CreateDirectory(Path.Combine(app.Root, "elsewhere"));
                File.CreateSymbolicLink(root, Path.Combine(app.Root, "elsewhere"));
                break;
            default:
                app.Write("root", "a file");
                break;
        }
        var before = File.GetUnixFileMode(root);

        var result = await Run(["--server-root", root], new Dictionary<string, string> { ["MODWSGI_APP_ROOT"] = app.Root }, dryRun: false);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"modwsgi-launch: error: the server root {root} {message}", result.Stderr);
        Assert.Contains("choose another with --server-root or MOD_WSGI_SERVER_ROOT", result.Stderr);
        Assert.Equal(before, File.GetUnixFileMode(root));
        Assert.False(File.Exists(Path.Combine(root, "httpd.conf")));
    }
}
