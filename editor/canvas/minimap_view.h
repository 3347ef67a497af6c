// The minimap: a small overview of the whole graph in the canvas' bottom-right corner, with
// the part the canvas shows outlined; clicking or dragging in it moves the canvas there.
#pragma once
#include <QGraphicsView>

namespace nl::editor {

class GraphView;

class MinimapView : public QGraphicsView {
  Q_OBJECT

 public:
  // Lives on `canvas`'s viewport and follows its scrolling and the scene's changes; the
  // canvas calls place() when it is resized.
  explicit MinimapView(GraphView* canvas);

  // Refits the overview to every item (after the scene changed).
  void refit();
  // The scene rectangle the canvas currently shows.
  QRectF canvasRect() const;

 protected:
  void drawBackground(QPainter* painter, const QRectF& rect) override;
  void drawForeground(QPainter* painter, const QRectF& rect) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;

 public:
  void place();  // bottom-right corner of the canvas viewport

 private:
  GraphView* canvas_;
};

}  // namespace nl::editor
