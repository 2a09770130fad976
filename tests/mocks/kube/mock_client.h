// GoogleMock mock of kube::Client, for unit tests of code that calls the API.
#pragma once

#include <gmock/gmock.h>

#include "kube/client.h"

namespace sessionstore::kube {

class MockClient : public Client {
 public:
  MOCK_METHOD(Result<Json>, get,
              (const Resource&, const std::string&, const std::string&, const std::string&),
              (override));
  MOCK_METHOD(Result<ObjectList>, list, (const Resource&, const std::string&, const ListOptions&),
              (override));
  MOCK_METHOD(Result<Json>, create,
              (const Resource&, const std::string&, const Json&, const CreateOptions&),
              (override));
  MOCK_METHOD(Result<Json>, update,
              (const Resource&, const std::string&, const Json&, const std::string&), (override));
  MOCK_METHOD(Result<Json>, remove,
              (const Resource&, const std::string&, const std::string&, const DeleteOptions&),
              (override));
  MOCK_METHOD(Result<Json>, patch,
              (const Resource&, const std::string&, const std::string&, PatchType, const Json&,
               const PatchOptions&),
              (override));
  MOCK_METHOD(Result<std::unique_ptr<WatchStream>>, watch,
              (const Resource&, const std::string&, const WatchOptions&), (override));
};

}  // namespace sessionstore::kube
