// Light and dark themes: Qt's Fusion style with a palette for each.
#pragma once
#include <QString>

namespace nl::app {

enum class Theme { Light, Dark };

// Sets Fusion and the theme's palette on the running QApplication.
void apply_theme(Theme theme);
QString theme_name(Theme theme);                 // "light", "dark" (settings value)
Theme theme_from_name(const QString& name);      // anything unknown is Light

}  // namespace nl::app
