using System.Text.Json;
using ModWsgi.Core.Diagnostics;
using ModWsgi.Core.Project;

namespace ModWsgi.Core.Steps;

/// <summary>What Django itself says about a project, read inside the build container after pip.</summary>
public sealed record DjangoSettings(string? StaticUrl, string StaticRoot, string? WsgiApplication, bool StaticRootDefaulted);

/// <summary>
/// Django projects, warpdrive-style: the settings are read by Django in the build container (not parsed
/// from settings.py), `collectstatic --noinput` runs unless disabled (into a default STATIC_ROOT when the
/// settings lack one), and the image serves WSGI_APPLICATION with STATIC_URL aliased to STATIC_ROOT so
/// Apache, not Python, serves static files. Every value the project sets itself wins.
/// </summary>
public static class DjangoSupport
{
    /// <summary>Where the Django step leaves its report, read back through the engine (never part of a layer: /tmp is scratch).</summary>
    public const string SettingsFile = "/tmp/modwsgi-django-settings.json";
    /// <summary>Where collectstatic writes when the settings name no STATIC_ROOT (the seed's layout: htdocs next to manage.py).</summary>
    public const string DefaultStaticRoot = "htdocs";

    public static BuildStep Step(DjangoProject django, bool collectStatic)
    {
        var folder = django.ManageDirectory.Length == 0 ? BuildPlan.AppRoot : BuildPlan.AppRoot + "/" + django.ManageDirectory;
        var script = $$"""
            import json, os, sys
            sys.path.insert(0, os.getcwd())
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", {{JsonSerializer.Serialize(django.SettingsModule)}})
            import django
            from django.conf import settings
            django.setup()
            root = getattr(settings, "STATIC_ROOT", None)
            defaulted = not root
            if defaulted:
                root = os.path.join(os.getcwd(), {{JsonSerializer.Serialize(DefaultStaticRoot)}})
                settings.STATIC_ROOT = root
            if {{(collectStatic ? "True" : "False")}}:
                from django.core.management import call_command
                call_command("collectstatic", interactive=False, verbosity=1)
            with open({{JsonSerializer.Serialize(SettingsFile)}}, "w") as report:
                json.dump({
                    "static_url": getattr(settings, "STATIC_URL", None),
                    "static_root": str(root),
                    "wsgi_application": getattr(settings, "WSGI_APPLICATION", None),
                    "defaulted": defaulted,
                }, report)
            """;
        return new BuildStep("django", collectStatic ? "Django: collectstatic --noinput" : "Django: reading settings",
            $"cd {folder}\n/opt/venv/bin/python - <<'MODWSGI_DJANGO'\n{script}\nMODWSGI_DJANGO");
    }

    /// <summary>The server options with Django's entry point and static alias, where the project set none.</summary>
    public static WsgiServerOptions Apply(WsgiServerOptions server, DjangoProject django, DjangoSettings settings)
    {
        var result = server;
        if (server.EntryPoint is null && server.ApplicationType == WsgiApplicationType.Script && settings.WsgiApplication is { } wsgi && wsgi.LastIndexOf('.') is var dot and > 0)
        {
            result = result with
            {
                ApplicationType = WsgiApplicationType.Module,
                EntryPoint = wsgi[..dot],
                CallableObject = server.CallableObject ?? wsgi[(dot + 1)..],
                WorkingDirectory = server.WorkingDirectory ?? (django.ManageDirectory.Length == 0 ? null : django.ManageDirectory),
            };
        }
        // Only a local URL path can be an alias (a CDN STATIC_URL is served elsewhere).
        if (settings.StaticUrl is { } url && url.StartsWith('/') && url.TrimEnd('/') is { Length: > 0 } mount
            && !server.UrlAliases.Any(a => a.Url.TrimEnd('/') == mount)
            && settings.StaticRoot.StartsWith(BuildPlan.AppRoot + "/", StringComparison.Ordinal))
        {
            result = result with { UrlAliases = [.. result.UrlAliases, new UrlAlias(mount, settings.StaticRoot[(BuildPlan.AppRoot.Length + 1)..])] };
        }
        return result;
    }

    /// <summary>The step's report (<see cref="SettingsFile"/>); null when it is missing or not the report's shape.</summary>
    public static DjangoSettings? ParseSettings(byte[]? report)
    {
        if (report is null)
            return null;
        try
        {
            using var json = JsonDocument.Parse(report);
            var root = json.RootElement;
            return new DjangoSettings(
                root.GetProperty("static_url").GetString(),
                root.GetProperty("static_root").GetString() ?? "",
                root.GetProperty("wsgi_application").GetString(),
                root.GetProperty("defaulted").GetBoolean());
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }

    public static ModWsgiException Unreadable(DjangoProject django) => new(DiagnosticCodes.DjangoSettingsUnreadable,
        $"Django's settings ({django.SettingsModule}) did not report STATIC_URL/STATIC_ROOT/WSGI_APPLICATION in the build. " +
        "Check that Django is in requirements.txt, or turn detection off with <WsgiFrameworkDetection>false</WsgiFrameworkDetection>.");
}
