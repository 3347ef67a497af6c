// The start page: new, open, templates with thumbnails, recent files.
#include "app/gui/start_page.h"

#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPainter>
#include <QPushButton>
#include <QVBoxLayout>

#include "editor/canvas/graph_scene.h"
#include "editor/canvas/node_style.h"
#include "editor/graph_document.h"
#include "engine/graph/graph_analysis.h"
#include "engine/project/project.h"

namespace nl::app {

namespace {
constexpr int kRole = Qt::UserRole + 1;  // the file path behind a card or a recent entry
const QSize kThumb(300, 170);
}  // namespace

QPixmap render_project_thumbnail(const QString& path, QSize size, QString* name, QString* description,
                                 QString* facts) {
  project::Project p;
  try {
    p = project::load_project(path.toStdString());
  } catch (const std::exception&) {
    return {};
  }
  if (name) *name = QString::fromStdString(p.name.empty() ? QFileInfo(path).completeBaseName().toStdString() : p.name);
  if (description) *description = QString::fromStdString(p.description);
  if (facts) {
    graph::GraphAnalysis a = graph::analyze(p.graph);
    *facts = QObject::tr("%1 layers · %2 parameters")
                 .arg(p.graph.size())
                 .arg(QString::fromStdString(graph::human_count(a.total_params())));
  }
  // The same items the canvas shows, drawn once into a picture.
  editor::GraphDocument doc;
  doc.reset(std::move(p.graph));
  editor::GraphScene scene(doc);
  QRectF items = scene.itemsBoundingRect().adjusted(-20, -20, 20, 20);
  QPixmap picture(size);
  picture.fill(QColor(0, 0, 0, 0));
  QPainter painter(&picture);
  painter.setRenderHints(QPainter::Antialiasing | QPainter::TextAntialiasing | QPainter::SmoothPixmapTransform);
  // A small canvas: the canvas' colour with a rounded edge, the graph centred in it.
  const editor::CanvasColors colors = editor::CanvasColors::current();
  QRectF card = QRectF(QPointF(0, 0), QSizeF(size)).adjusted(1, 1, -1, -1);
  painter.setPen(QPen(colors.grid_major, 1));
  painter.setBrush(colors.background);
  painter.drawRoundedRect(card, 8, 8);
  QSizeF fitted = items.size().scaled(card.size() - QSizeF(16, 16), Qt::KeepAspectRatio);
  QRectF target(card.center() - QPointF(fitted.width() / 2, fitted.height() / 2), fitted);
  scene.render(&painter, target, items, Qt::IgnoreAspectRatio);
  return picture;
}

StartPage::StartPage(QWidget* parent) : QWidget(parent) {
  setObjectName("startPage");
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(48, 36, 48, 36);
  outer->setSpacing(14);

  auto* title = new QLabel(tr("<h1 style='margin:0'>Netloom</h1>"
                              "<p style='margin-top:4px'>Design a network by wiring layers, train it and watch it "
                              "learn, and exchange it as ONNX.</p>"),
                           this);
  title->setTextFormat(Qt::RichText);
  outer->addWidget(title);

  auto* buttons = new QHBoxLayout;
  new_ = new QPushButton(tr("New Empty Project"), this);
  open_ = new QPushButton(tr("Open Project…"), this);
  for (QPushButton* b : {new_, open_}) {
    b->setMinimumHeight(34);
    buttons->addWidget(b);
  }
  buttons->addStretch(1);
  outer->addLayout(buttons);
  connect(new_, &QPushButton::clicked, this, &StartPage::newProjectRequested);
  connect(open_, &QPushButton::clicked, this, &StartPage::openRequested);

  outer->addWidget(new QLabel(tr("<b>Start from an example</b> — click a card"), this));
  templates_ = new QListWidget(this);
  templates_->setObjectName("templates");
  templates_->setViewMode(QListView::IconMode);
  templates_->setIconSize(kThumb);
  templates_->setGridSize(kThumb + QSize(40, 86));
  templates_->setResizeMode(QListView::Adjust);
  templates_->setMovement(QListView::Static);
  templates_->setWordWrap(true);
  templates_->setSpacing(8);
  templates_->setSelectionMode(QAbstractItemView::SingleSelection);
  outer->addWidget(templates_, 3);
  // One click opens a card: it is a launcher, not a list to select in.
  connect(templates_, &QListWidget::itemClicked, this,
          [this](QListWidgetItem* item) { emit templateChosen(item->data(kRole).toString()); });

  outer->addWidget(new QLabel(tr("<b>Recent projects</b>"), this));
  recent_ = new QListWidget(this);
  recent_->setObjectName("recent");
  recent_->setMaximumHeight(150);
  outer->addWidget(recent_, 1);
  connect(recent_, &QListWidget::itemActivated, this,
          [this](QListWidgetItem* item) { emit recentChosen(item->data(kRole).toString()); });
  connect(recent_, &QListWidget::itemClicked, this,
          [this](QListWidgetItem* item) { emit recentChosen(item->data(kRole).toString()); });
}

void StartPage::setTemplates(const QStringList& paths) {
  templates_->clear();
  for (const QString& path : paths) {
    QString name, description, facts;
    QPixmap thumb = render_project_thumbnail(path, kThumb, &name, &description, &facts);
    if (thumb.isNull()) continue;
    auto* item = new QListWidgetItem(QIcon(thumb), name + "\n" + facts, templates_);
    item->setFont([&] {
      QFont f = templates_->font();
      f.setBold(false);
      return f;
    }());
    item->setData(kRole, path);
    item->setToolTip(description.isEmpty() ? name : "<b>" + name.toHtmlEscaped() + "</b><br/>" + description.toHtmlEscaped());
    item->setTextAlignment(Qt::AlignHCenter | Qt::AlignTop);
  }
}

void StartPage::setRecentFiles(const QStringList& paths) {
  recent_->clear();
  for (const QString& path : paths) {
    auto* item = new QListWidgetItem(QFileInfo(path).completeBaseName() + "   —   " + QDir::toNativeSeparators(path), recent_);
    item->setData(kRole, path);
  }
  if (paths.isEmpty()) {
    auto* none = new QListWidgetItem(tr("No recent projects yet"), recent_);
    none->setFlags(Qt::NoItemFlags);
  }
}

}  // namespace nl::app
