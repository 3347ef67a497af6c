// The canvas view: zoom around the cursor with the wheel, pan with the middle button,
// fit-to-view, a grid background, rubber-band selection and Delete.
#pragma once
#include <QGraphicsView>

namespace nl::editor {

class GraphScene;

class GraphView : public QGraphicsView {
  Q_OBJECT

 public:
  explicit GraphView(GraphScene* scene, QWidget* parent = nullptr);
  GraphScene* graphScene() const { return scene_; }
  double zoom() const { return transform().m11(); }

 public slots:
  // Shows every node, zoomed no further in than 100 %.
  void fitToView();
  void zoomBy(double factor);

 protected:
  void wheelEvent(QWheelEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;
  void drawBackground(QPainter* painter, const QRectF& rect) override;

 private:
  GraphScene* scene_;
  bool panning_ = false;
  QPoint pan_last_;
};

}  // namespace nl::editor
