// What the main window keeps of an open project besides the graph the document edits: its
// file, name, description, training settings and trained weights, so Save writes back the
// whole project and not just the graph.
#pragma once
#include <QString>

#include "engine/project/project.h"

namespace nl::app {

struct ProjectSession {
  QString path;  // empty: not saved yet (a new project or one made from a template)
  std::string name, description;
  project::TrainingSettings training;
  std::map<std::string, Tensor> weights;

  // Takes everything but the graph (which goes to the document).
  static ProjectSession from(project::Project& project, const QString& path);
  // The name for titles: the project's name, else the file's, else "Untitled".
  QString displayName() const;
  // The project to save, with `graph` (the document's). The weights go along only while they
  // still fit the graph (load_project refuses a weights file that does not); otherwise they
  // are left out and `note` says so.
  project::Project toProject(const graph::ModelGraph& graph, QString* note) const;
};

}  // namespace nl::app
