// ProjectSession: carrying a project's non-graph parts between open and save.
#include "app/gui/project_session.h"

#include <QFileInfo>
#include <QObject>

namespace nl::app {

ProjectSession ProjectSession::from(project::Project& p, const QString& path) {
  ProjectSession s;
  s.path = path;
  s.name = p.name;
  s.description = p.description;
  s.training = p.training;
  s.weights = std::move(p.weights);
  return s;
}

QString ProjectSession::displayName() const {
  if (!name.empty()) return QString::fromStdString(name);
  if (!path.isEmpty()) return QFileInfo(path).completeBaseName();
  return QObject::tr("Untitled");
}

project::Project ProjectSession::toProject(const graph::ModelGraph& graph, QString* note) const {
  project::Project p;
  p.graph = graph;
  p.training = training;
  p.name = name;
  p.description = description;
  if (!weights.empty()) {
    try {
      project::check_weights(graph, weights, "weights");
      p.weights = weights;
    } catch (const std::exception& e) {
      if (note) *note = QObject::tr("Trained weights left out: the model changed since training (%1)").arg(e.what());
    }
  }
  return p;
}

}  // namespace nl::app
