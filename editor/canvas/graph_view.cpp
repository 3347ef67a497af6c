// The canvas view: navigation, grid, keyboard, drops, search-to-add and the clipboard.
#include "editor/canvas/graph_view.h"
#include "editor/canvas/minimap_view.h"

#include <QGestureEvent>
#include <QInputDialog>
#include <QKeyEvent>
#include <QNativeGestureEvent>
#include <QPinchGesture>
#include <QMimeData>
#include <QScrollBar>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>
#include <limits>

#include "editor/canvas/graph_scene.h"
#include "editor/canvas/group_item.h"
#include "editor/groups/node_groups.h"
#include "editor/canvas/node_style.h"
#include "editor/canvas/snippet_clipboard.h"
#include "editor/search/search_popup.h"
#include "engine/graph/graph_json.h"

namespace nl::editor {

namespace {
constexpr double kMinZoom = 0.1, kMaxZoom = 4.0;
constexpr double kGrid = 20;  // minor grid step; every fifth line is stronger
}  // namespace

GraphView::GraphView(GraphScene* scene, QWidget* parent) : QGraphicsView(scene, parent), scene_(scene) {
  setRenderHints(QPainter::Antialiasing | QPainter::TextAntialiasing | QPainter::SmoothPixmapTransform);
  setDragMode(RubberBandDrag);
  setRubberBandSelectionMode(Qt::IntersectsItemShape);
  setTransformationAnchor(AnchorUnderMouse);
  setViewportUpdateMode(SmartViewportUpdate);
  setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  setFocusPolicy(Qt::StrongFocus);
  setAcceptDrops(true);
  viewport()->setMouseTracking(true);
  search_ = new SearchPopup(viewport());
  minimap_ = new MinimapView(this);
  connect(search_, &SearchPopup::chosen, this, &GraphView::addChosenLayer);
  connect(search_, &SearchPopup::closed, this, [this] {
    search_wire_.reset();
    setFocus(Qt::OtherFocusReason);
  });
  connect(scene_, &GraphScene::wireDropped, this, &GraphView::openSearchForWire);
  // Touchscreen pinches arrive as gestures; touchpad pinches as native gesture events.
  viewport()->grabGesture(Qt::PinchGesture);
}

void GraphView::setSnapToGrid(bool on) { scene_->setSnapToGrid(on); }

graph::NodeUi GraphView::placementAt(QPointF p) const {
  graph::NodeUi ui;
  ui.x = p.x() - NodeStyle::kWidth / 2;
  ui.y = p.y() - NodeStyle::kHeader / 2;
  if (scene_->snapToGrid()) {
    ui.x = std::round(ui.x / GraphScene::kGridStep) * GraphScene::kGridStep;
    ui.y = std::round(ui.y / GraphScene::kGridStep) * GraphScene::kGridStep;
  }
  return ui;
}

// --- Search-to-add ---------------------------------------------------------------------------

void GraphView::openSearch(QPointF scene_pos) {
  search_wire_.reset();
  search_at_ = scene_pos;
  search_->open(mapFromScene(scene_pos));
}

namespace {

bool compatible(graph::PortType a, graph::PortType b) {
  return a == graph::PortType::Any || b == graph::PortType::Any || a == b;
}

}  // namespace

void GraphView::openSearchForWire(graph::PortRef port, bool port_is_output, QPointF scene_pos) {
  const graph::Node* node = scene_->document().graph().find(port.node);
  if (!node) return;
  const graph::LayerSchema& schema = graph::LayerRegistry::builtin().get(node->type);
  // The dragged port's tensor type; variadic slots past the last port share its spec, and
  // layers with an attribute-driven output count describe all outputs by outputs[0].
  const auto& specs = port_is_output ? schema.outputs : schema.inputs;
  if (specs.empty()) return;
  graph::PortType type = specs[std::min<size_t>(port.port, specs.size() - 1)].type;
  search_at_ = scene_pos;
  search_->open(mapFromScene(scene_pos), [type, port_is_output](const graph::LayerSchema& candidate) {
    const auto& other = port_is_output ? candidate.inputs : candidate.outputs;
    return std::any_of(other.begin(), other.end(), [&](const graph::PortSpec& p) { return compatible(p.type, type); });
  });
  search_wire_ = PendingWire{port, port_is_output};
}

void GraphView::addChosenLayer(const QString& type_name) {
  GraphDocument& doc = scene_->document();
  std::string type = type_name.toStdString();
  if (!graph::LayerRegistry::builtin().find(type)) return;
  std::optional<PendingWire> wire = search_wire_;
  search_wire_.reset();
  graph::NodeUi ui = placementAt(search_at_);
  if (!wire) {
    auto added = doc.addNode(type, {}, {}, ui);
    if (added) scene_->selectNodes({added.value});
    return;
  }
  // Add and wire as one undo step. The type exists, so the add is accepted and the macro
  // is never empty; a refused wire leaves the node (the status bar says why).
  doc.undoStack()->beginMacro(tr("Add %1").arg(type_name));
  auto added = doc.addNode(type, {}, {}, ui);
  if (added) {
    const graph::LayerSchema& schema = graph::LayerRegistry::builtin().get(type);
    bool wired = false;
    if (wire->port_is_output) {
      for (int slot = 0; slot < int(schema.inputs.size()) && !wired; ++slot) {
        graph::Edge e{wire->port, {added.value, slot}};
        if (doc.canConnect(e)) wired = bool(doc.connectPorts(e));
      }
    } else {
      NodeLayout layout = NodeLayout::of(doc, added.value);
      for (int out = 0; out < layout.outputs && !wired; ++out) {
        graph::Edge e{{added.value, out}, wire->port};
        if (doc.canConnect(e)) wired = bool(doc.connectPorts(e));
      }
    }
    if (!wired) emit scene_->statusMessage(tr("%1 added, but it cannot take this wire").arg(type_name));
  }
  doc.undoStack()->endMacro();
  if (added) scene_->selectNodes({added.value});
}

// --- Clipboard, selection, alignment ---------------------------------------------------------

void GraphView::copySelection() { SnippetClipboard::copy(scene_->document().graph(), scene_->selectedNodeIds()); }

void GraphView::cutSelection() {
  // Copy, then remove: the removal is the one undo step (the clipboard is not undone).
  std::vector<graph::NodeId> ids = scene_->selectedNodeIds();
  if (!SnippetClipboard::copy(scene_->document().graph(), ids)) return;
  scene_->document().removeItems(ids);
}

void GraphView::pasteAt(QPointF scene_pos) {
  std::optional<nlohmann::json> snippet = SnippetClipboard::read();
  if (!snippet) {
    emit scene_->statusMessage(tr("The clipboard holds no layers"));
    return;
  }
  QPointF shift = scene_pos - SnippetClipboard::topLeft(*snippet);
  if (scene_->snapToGrid()) {
    QPointF target = SnippetClipboard::topLeft(*snippet) + shift;
    QPointF snapped(std::round(target.x() / GraphScene::kGridStep) * GraphScene::kGridStep,
                    std::round(target.y() / GraphScene::kGridStep) * GraphScene::kGridStep);
    shift += snapped - target;
  }
  auto pasted = scene_->document().paste(*snippet, shift.x(), shift.y());
  if (pasted) scene_->selectNodes(pasted.value);
}

namespace {
constexpr double kPasteOffset = 40;  // a copy lands beside its original, on the grid
}

void GraphView::paste() {
  if (std::optional<QPointF> at = mouseScenePos()) return pasteAt(*at);
  std::optional<nlohmann::json> snippet = SnippetClipboard::read();
  QPointF origin = snippet ? SnippetClipboard::topLeft(*snippet) : QPointF();
  pasteAt(origin + QPointF(kPasteOffset, kPasteOffset));
}

void GraphView::duplicateSelection() {
  std::vector<graph::NodeId> ids = scene_->selectedNodeIds();
  if (ids.empty()) return;
  // Straight through the document, leaving the clipboard as the user left it.
  GraphDocument& doc = scene_->document();
  auto pasted = doc.paste(graph::snippet_to_json(doc.graph(), ids), kPasteOffset, kPasteOffset);
  if (pasted) scene_->selectNodes(pasted.value);
}

void GraphView::selectAll() {
  std::vector<graph::NodeId> ids;
  for (const auto& [id, node] : scene_->document().graph().nodes()) ids.push_back(id);
  scene_->selectNodes(ids);
}

void GraphView::alignSelection(Alignment how) {
  GraphDocument& doc = scene_->document();
  std::vector<graph::NodeId> ids = scene_->selectedNodeIds();
  if (ids.size() < 2) return;
  // Aligns on the first node in the selection's extent: the leftmost left edge, the topmost
  // top edge, or the mean centre.
  std::map<graph::NodeId, QRectF> rects;
  double left = std::numeric_limits<double>::max(), top = left, cx = 0, cy = 0;
  for (graph::NodeId id : ids) {
    const graph::NodeUi& ui = doc.graph().node(id).ui;
    QRectF r = NodeLayout::of(doc, id).rect().translated(ui.x, ui.y);
    rects[id] = r;
    left = std::min(left, r.left());
    top = std::min(top, r.top());
    cx += r.center().x() / ids.size();
    cy += r.center().y() / ids.size();
  }
  std::map<graph::NodeId, QPointF> to;
  for (const auto& [id, r] : rects) {
    const graph::NodeUi& ui = doc.graph().node(id).ui;
    QPointF pos(ui.x, ui.y);
    switch (how) {
      case Alignment::Left: pos.rx() += left - r.left(); break;
      case Alignment::Top: pos.ry() += top - r.top(); break;
      case Alignment::HorizontalCentre: pos.rx() += cx - r.center().x(); break;
      case Alignment::VerticalCentre: pos.ry() += cy - r.center().y(); break;
    }
    if (pos != QPointF(ui.x, ui.y)) to[id] = pos;
  }
  if (!to.empty()) doc.moveNodes(to, doc.newMoveId());
}

std::optional<QPointF> GraphView::mouseScenePos() const {
  if (!mouse_ || !viewport()->rect().contains(*mouse_)) return std::nullopt;
  return mapToScene(*mouse_);
}

void GraphView::groupSelection() {
  GraphDocument& doc = scene_->document();
  std::vector<graph::NodeId> ids = scene_->selectedNodeIds();
  std::string name = unused_group_name(doc.graph());
  if (!doc.groupNodes(ids, name)) return;  // the reason reached the status bar
  emit scene_->statusMessage(tr("Grouped %n layer(s) into “%1” (Ctrl+E collapses it)", nullptr, static_cast<int>(ids.size()))
                                 .arg(QString::fromStdString(name)));
  if (GroupItem* item = scene_->groupItem(name)) {
    scene_->clearSelection();
    item->setSelected(true);
  }
}

void GraphView::ungroupSelection() {
  std::vector<std::string> names = scene_->selectedGroupNames();
  if (names.empty()) {
    emit scene_->statusMessage(tr("Select a block to ungroup"));
    return;
  }
  GraphDocument& doc = scene_->document();
  // Several blocks dissolve as one undo step.
  if (names.size() > 1) doc.undoStack()->beginMacro(tr("Ungroup Blocks"));
  for (const std::string& name : names) doc.ungroup(name);
  if (names.size() > 1) doc.undoStack()->endMacro();
}

void GraphView::toggleSelectedGroups() {
  std::vector<std::string> names = scene_->selectedGroupNames();
  if (names.empty()) {
    // Layers outside blocks fold to their header (or unfold, when all are folded).
    std::vector<graph::NodeId> ids = scene_->selectedNodeIds();
    if (ids.empty()) {
      emit scene_->statusMessage(tr("Select a block or layers to collapse or expand"));
      return;
    }
    bool all_folded = true;
    for (graph::NodeId id : ids) all_folded = all_folded && scene_->document().graph().node(id).ui.collapsed;
    scene_->document().setNodesFolded(ids, !all_folded);
    return;
  }
  GraphDocument& doc = scene_->document();
  if (names.size() > 1) doc.undoStack()->beginMacro(tr("Collapse/Expand Blocks"));
  for (const std::string& name : names)
    if (GroupItem* item = scene_->groupItem(name)) doc.setGroupCollapsed(name, !item->isCollapsed());
  if (names.size() > 1) doc.undoStack()->endMacro();
  for (const std::string& name : names)  // keep the blocks selected for the next toggle
    if (GroupItem* item = scene_->groupItem(name)) item->setSelected(true);
}

void GraphView::renameSelectedGroup() {
  std::vector<std::string> names = scene_->selectedGroupNames();
  if (names.size() != 1) {
    emit scene_->statusMessage(tr("Select one block to rename"));
    return;
  }
  bool ok = false;
  QString to = QInputDialog::getText(this, tr("Rename Block"), tr("Block name:"), QLineEdit::Normal,
                                     QString::fromStdString(names.front()), &ok)
                   .trimmed();
  if (ok && !to.isEmpty()) scene_->document().renameGroup(names.front(), to.toStdString());
}

void GraphView::fitToView() {
  QRectF bounds = scene_->itemsBoundingRect();
  if (bounds.isEmpty()) return;
  fitInView(bounds.adjusted(-30, -30, 30, 30), Qt::KeepAspectRatio);
  if (zoom() > 1.0) {
    resetTransform();
    centerOn(bounds.center());
  }
}

void GraphView::zoomBy(double factor) {
  double target = std::clamp(zoom() * factor, kMinZoom, kMaxZoom);
  scale(target / zoom(), target / zoom());
}

void GraphView::wheelEvent(QWheelEvent* event) {
  // The scene point under the wheel's position stays put. (AnchorUnderMouse reads the
  // global cursor, which is not where a synthetic or touchpad event happened.)
  double steps = event->angleDelta().y() / 120.0;
  if (steps == 0) return;
  zoomAround(event->position().toPoint(), std::pow(1.15, steps));
  event->accept();
}

void GraphView::zoomAround(QPoint cursor, double factor) {
  QPointF anchor = mapToScene(cursor);
  ViewportAnchor saved = transformationAnchor();
  setTransformationAnchor(NoAnchor);
  zoomBy(factor);
  setTransformationAnchor(saved);
  QPoint drift = mapFromScene(anchor) - cursor;
  horizontalScrollBar()->setValue(horizontalScrollBar()->value() + drift.x());
  verticalScrollBar()->setValue(verticalScrollBar()->value() + drift.y());
}

// --- Events --------------------------------------------------------------------------------

bool GraphView::handleShortcut(QKeyEvent* event, bool only_check) {
  // The canvas's own shortcuts. They are taken in ShortcutOverride too, so while the canvas
  // has focus they win over the same keys on window actions (Edit ▸ Copy copies the canvas
  // either way; the window's actions may call these slots).
  if (event->modifiers() == (Qt::ControlModifier | Qt::ShiftModifier) && event->key() == Qt::Key_G) {
    if (!only_check) ungroupSelection();
    return true;
  }
  if (event->modifiers() != Qt::ControlModifier) return false;
  void (GraphView::*slot)() = nullptr;
  switch (event->key()) {
    case Qt::Key_G: slot = &GraphView::groupSelection; break;
    case Qt::Key_E: slot = &GraphView::toggleSelectedGroups; break;
    case Qt::Key_C: slot = &GraphView::copySelection; break;
    case Qt::Key_X: slot = &GraphView::cutSelection; break;
    case Qt::Key_V: slot = &GraphView::paste; break;
    case Qt::Key_D: slot = &GraphView::duplicateSelection; break;
    case Qt::Key_A: slot = &GraphView::selectAll; break;
    default: return false;
  }
  if (!only_check) (this->*slot)();
  return true;
}

bool GraphView::event(QEvent* event) {
  if (event->type() == QEvent::ShortcutOverride && handleShortcut(static_cast<QKeyEvent*>(event), true)) {
    event->accept();
    return true;
  }
  // Tab would move the focus to the next widget before keyPressEvent sees it.
  if (event->type() == QEvent::KeyPress) {
    auto* key = static_cast<QKeyEvent*>(event);
    if (key->key() == Qt::Key_Tab && key->modifiers() == Qt::NoModifier) {
      std::optional<QPointF> at = mouseScenePos();
      openSearch(at ? *at : mapToScene(viewport()->rect().center()));
      return true;
    }
  }
  return QGraphicsView::event(event);
}

bool GraphView::viewportEvent(QEvent* event) {
  if (event->type() == QEvent::Leave) mouse_.reset();
  if (event->type() == QEvent::NativeGesture) {
    // A touchpad pinch: value() is the change of scale since the last event (0.1 = +10 %).
    auto* gesture = static_cast<QNativeGestureEvent*>(event);
    if (gesture->gestureType() == Qt::ZoomNativeGesture) {
      zoomAround(viewport()->mapFromGlobal(gesture->globalPosition().toPoint()), 1.0 + gesture->value());
      return true;
    }
  }
  if (event->type() == QEvent::Gesture) {
    auto* gestures = static_cast<QGestureEvent*>(event);
    if (auto* pinch = static_cast<QPinchGesture*>(gestures->gesture(Qt::PinchGesture))) {
      if (pinch->changeFlags() & QPinchGesture::ScaleFactorChanged)
        zoomAround(viewport()->mapFromGlobal(pinch->centerPoint().toPoint()), pinch->scaleFactor());
      gestures->accept(pinch);
      return true;
    }
  }
  return QGraphicsView::viewportEvent(event);
}

void GraphView::mousePressEvent(QMouseEvent* event) {
  bool space_pan = event->button() == Qt::LeftButton && space_held_;
  if (event->button() == Qt::MiddleButton || space_pan) {
    panning_ = true;
    pan_button_ = event->button();
    pan_last_ = event->pos();
    viewport()->setCursor(Qt::ClosedHandCursor);
    event->accept();
    return;
  }
  QGraphicsView::mousePressEvent(event);
}

void GraphView::mouseMoveEvent(QMouseEvent* event) {
  mouse_ = event->pos();
  if (panning_) {
    QPoint delta = event->pos() - pan_last_;
    pan_last_ = event->pos();
    horizontalScrollBar()->setValue(horizontalScrollBar()->value() - delta.x());
    verticalScrollBar()->setValue(verticalScrollBar()->value() - delta.y());
    event->accept();
    return;
  }
  QGraphicsView::mouseMoveEvent(event);
}

void GraphView::mouseReleaseEvent(QMouseEvent* event) {
  if (panning_ && event->button() == pan_button_) {
    panning_ = false;
    pan_button_ = Qt::NoButton;
    if (space_held_)
      viewport()->setCursor(Qt::OpenHandCursor);
    else
      viewport()->unsetCursor();
    event->accept();
    return;
  }
  QGraphicsView::mouseReleaseEvent(event);
}

void GraphView::mouseDoubleClickEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton && !itemAt(event->pos())) {
    openSearch(mapToScene(event->pos()));
    event->accept();
    return;
  }
  QGraphicsView::mouseDoubleClickEvent(event);
}

void GraphView::keyPressEvent(QKeyEvent* event) {
  if (handleShortcut(event, false)) {
    event->accept();
    return;
  }
  if (event->key() == Qt::Key_Space && event->modifiers() == Qt::NoModifier) {
    if (!event->isAutoRepeat()) {
      space_held_ = true;
      if (!panning_) viewport()->setCursor(Qt::OpenHandCursor);
    }
    event->accept();
    return;
  }
  if (event->key() == Qt::Key_Delete || event->key() == Qt::Key_Backspace) {
    scene_->deleteSelection();
    event->accept();
    return;
  }
  if (event->key() == Qt::Key_Home) {
    fitToView();
    event->accept();
    return;
  }
  QGraphicsView::keyPressEvent(event);
}

void GraphView::keyReleaseEvent(QKeyEvent* event) {
  if (event->key() == Qt::Key_Space && !event->isAutoRepeat()) {
    space_held_ = false;
    if (!panning_) viewport()->unsetCursor();
    event->accept();
    return;
  }
  QGraphicsView::keyReleaseEvent(event);
}

namespace {

// The layer type a palette drag carries, or "" when it is not a known layer.
std::string droppedLayer(const QMimeData* mime) {
  if (!mime || !mime->hasFormat(GraphView::kLayerMime)) return {};
  std::string type = QString::fromUtf8(mime->data(GraphView::kLayerMime)).trimmed().toStdString();
  return graph::LayerRegistry::builtin().find(type) ? type : std::string();
}

}  // namespace

void GraphView::dragEnterEvent(QDragEnterEvent* event) {
  // Only palette layers drop here (no item on the canvas takes drops).
  if (droppedLayer(event->mimeData()).empty()) return event->ignore();
  event->acceptProposedAction();
}

void GraphView::dragMoveEvent(QDragMoveEvent* event) {
  // Not passed on to the scene: its items do not take drops, and the scene would refuse.
  if (droppedLayer(event->mimeData()).empty()) return event->ignore();
  event->acceptProposedAction();
}

void GraphView::dropEvent(QDropEvent* event) {
  std::string type = droppedLayer(event->mimeData());
  if (type.empty()) return event->ignore();
  QPointF at = mapToScene(event->position().toPoint());
  auto added = scene_->document().addNode(type, {}, {}, placementAt(at));
  if (added) scene_->selectNodes({added.value});
  event->acceptProposedAction();
  setFocus(Qt::OtherFocusReason);
}

void GraphView::setMinimapVisible(bool on) { minimap_->setVisible(on); }

void GraphView::resizeEvent(QResizeEvent* event) {
  QGraphicsView::resizeEvent(event);
  minimap_->place();
}

void GraphView::scrollContentsBy(int dx, int dy) {
  // Scrolling the viewport moves its child widgets too; the minimap stays in its corner.
  QGraphicsView::scrollContentsBy(dx, dy);
  minimap_->place();
}

void GraphView::drawBackground(QPainter* p, const QRectF& rect) {
  const CanvasColors colors = CanvasColors::current();
  p->fillRect(rect, colors.background);
  // Minor lines vanish when zoomed far out: they would only grey the canvas.
  bool minor = zoom() * kGrid >= 8;
  double step = minor ? kGrid : kGrid * 5;
  double left = std::floor(rect.left() / step) * step, top = std::floor(rect.top() / step) * step;
  QPen minor_pen(colors.grid_minor, 0), major_pen(colors.grid_major, 0);
  for (double x = left; x < rect.right(); x += step) {
    bool major = std::fmod(std::abs(x), kGrid * 5) < 0.5;
    p->setPen(major ? major_pen : minor_pen);
    p->drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()));
  }
  for (double y = top; y < rect.bottom(); y += step) {
    bool major = std::fmod(std::abs(y), kGrid * 5) < 0.5;
    p->setPen(major ? major_pen : minor_pen);
    p->drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y));
  }
}

}  // namespace nl::editor
