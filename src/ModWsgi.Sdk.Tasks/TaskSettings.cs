using System.Reflection;
using Microsoft.Build.Framework;
using ModWsgi.Core.Settings;

namespace ModWsgi.Sdk.Tasks;

/// <summary>
/// A task's setting parameters as <see cref="SettingValues"/>: each <see cref="SettingsTable"/> entry is read
/// from the parameter of the same name, so a setting added to the table only needs its parameter (and a test
/// fails until PublishImage has one of the right type). A task that needs a few settings declares only those.
/// </summary>
internal static class TaskSettings
{
    public static SettingValues Read(object task)
    {
        var values = new SettingValues();
        foreach (var setting in SettingsTable.All)
        {
            var parameter = task.GetType().GetProperty(setting.Name, BindingFlags.Public | BindingFlags.Instance);
            switch (parameter?.GetValue(task))
            {
                case string text:
                    values.SetText(setting, text);
                    break;
                case string[] list:
                    values.SetItems(setting, list.Where(e => !string.IsNullOrWhiteSpace(e)).Select(e => new SettingItem(e.Trim())));
                    break;
                case ITaskItem[] items:
                    values.SetItems(setting, items.Select(i => new SettingItem(i.ItemSpec,
                        setting.Metadata.ToDictionary(m => m, i.GetMetadata, StringComparer.Ordinal))));
                    break;
            }
        }
        return values;
    }
}
