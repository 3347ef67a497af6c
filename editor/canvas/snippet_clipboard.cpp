// The canvas's clipboard format.
#include "editor/canvas/snippet_clipboard.h"

#include <QApplication>
#include <QClipboard>
#include <QMimeData>
#include <limits>

#include "engine/graph/graph_json.h"

namespace nl::editor {

bool SnippetClipboard::copy(const graph::ModelGraph& graph, const std::vector<graph::NodeId>& ids) {
  if (ids.empty()) return false;
  QByteArray text = QByteArray::fromStdString(graph::snippet_to_json(graph, ids).dump(2));
  auto* mime = new QMimeData;
  mime->setData(kMime, text);
  mime->setText(QString::fromUtf8(text));
  QApplication::clipboard()->setMimeData(mime);
  return true;
}

std::optional<nlohmann::json> SnippetClipboard::read() {
  const QMimeData* mime = QApplication::clipboard()->mimeData();
  if (!mime) return std::nullopt;
  QByteArray bytes = mime->hasFormat(kMime) ? mime->data(kMime) : mime->text().toUtf8();
  // Plain text is anything the user copied: only a snippet counts.
  nlohmann::json j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("format", std::string()) != "netloom-snippet") return std::nullopt;
  return j;
}

QPointF SnippetClipboard::topLeft(const nlohmann::json& snippet) {
  double x = std::numeric_limits<double>::max(), y = x;
  bool any = false;
  if (snippet.contains("nodes") && snippet["nodes"].is_array())
    for (const auto& n : snippet["nodes"]) {
      if (!n.is_object() || !n.contains("ui") || !n["ui"].is_object()) continue;
      const auto& ui = n["ui"];
      if (ui.contains("x") && ui["x"].is_number()) x = std::min(x, ui["x"].get<double>()), any = true;
      if (ui.contains("y") && ui["y"].is_number()) y = std::min(y, ui["y"].get<double>()), any = true;
    }
  return any ? QPointF(x == std::numeric_limits<double>::max() ? 0 : x, y == std::numeric_limits<double>::max() ? 0 : y)
             : QPointF();
}

}  // namespace nl::editor
